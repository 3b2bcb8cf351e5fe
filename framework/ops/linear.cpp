// linear: forward, backward-data, backward-weights (+ bias). On CPU through oneDNN's
// inner_product primitives (backends/cpu/linear.h). On CUDA: cuBLAS SGEMMs and a bias
// kernel (backends/cuda/linear.h); the bias gradient there is sum_except_dim1.
#include "framework/ops/linear.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/linear.h"
#include "framework/ops/dispatch.h"
#include "framework/ops/reduce.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/linear.h"

namespace nf::ops {

namespace {

void check_shapes(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_dtype("linear", x, DType::F32);
  check_dtype("linear", w, DType::F32);
  NF_CHECK(x.dim() == 2, "linear: input must be [N, in_features], got " + shape_str(x.shape()));
  NF_CHECK(w.dim() == 2, "linear: weight must be [out_features, in_features], got " + shape_str(w.shape()));
  NF_CHECK(x.size(1) == w.size(1), "linear: input " + shape_str(x.shape()) + " has " + std::to_string(x.size(1)) +
                                       " features, weight " + shape_str(w.shape()) + " expects " +
                                       std::to_string(w.size(1)));
  if (b.defined()) {
    check_dtype("linear", b, DType::F32);
    NF_CHECK(b.shape() == Shape{w.size(0)},
             "linear: bias must be [" + std::to_string(w.size(0)) + "], got " + shape_str(b.shape()));
  }
}

void cuda_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  cuda::Scope scope(x.device());
  cuda::linear_forward(x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr, y.data<float>(),
                       x.size(0), x.size(1), w.size(0));
}

// As cpu::linear_backward: only the gradients asked for.
void cuda_backward(const Shape& xs, const Shape& ws, const Tensor& x, const Tensor& w, const Tensor& gy, Tensor* dx,
                   Tensor* dw, Tensor* db) {
  cuda::Scope scope(gy.device());
  if (dx) {
    *dx = Tensor::empty(xs, DType::F32, gy.device());
    cuda::linear_backward_data(gy.data<float>(), w.data<float>(), dx->data<float>(), xs[0], xs[1], ws[0]);
  }
  if (dw) {
    *dw = Tensor::empty(ws, DType::F32, gy.device());
    cuda::linear_backward_weights(gy.data<float>(), x.data<float>(), dw->data<float>(), xs[0], xs[1], ws[0]);
  }
  if (db) *db = sum_except_dim1(gy);
}

}  // namespace

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  check_same_device("linear", {x_in, w_in, b_in});
  check_shapes(x_in, w_in, b_in);
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const bool training = needs_grad({x_in, w_in, b_in});
  Tensor y = Tensor::empty({x.size(0), w.size(0)}, x.dtype(), x.device());
  switch (x.device().type) {
    case DeviceType::CPU: cpu::linear_forward(x, w, b, y, training); break;
    case DeviceType::CUDA: cuda_forward(x, w, b, y); break;
    default: unsupported_device("linear", x);
  }
  if (!training) return y;
  const bool need_dx = x_in.requires_grad(), need_dw = w_in.requires_grad();
  const bool need_db = b_in.defined() && b_in.requires_grad();
  // Keep only what the wanted gradients read: dx needs w, dw needs x.
  Tensor x_saved = need_dw ? x.detach() : Tensor(), w_saved = need_dx ? w.detach() : Tensor();
  const Shape xs = x.shape(), ws = w.shape();
  return record(y, "linear", {x_in, w_in, b_in}, [=](const Tensor& gy_in) {
    Tensor gy = gy_in.contiguous();
    Tensor dx, dw, db;
    switch (gy.device().type) {
      case DeviceType::CPU:
        cpu::linear_backward(xs, ws, x_saved, w_saved, gy, need_dx ? &dx : nullptr, need_dw ? &dw : nullptr,
                             need_db ? &db : nullptr);
        break;
      case DeviceType::CUDA:
        cuda_backward(xs, ws, x_saved, w_saved, gy, need_dx ? &dx : nullptr, need_dw ? &dw : nullptr,
                      need_db ? &db : nullptr);
        break;
      default: unsupported_device("linear backward", gy);
    }
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace nf::ops
