// linear: forward, backward-data, backward-weights (+ bias) through oneDNN's
// inner_product primitives on plain layouts ([N, in] x [out, in]), cached by shape.
// Scratch slot 0 holds the primitive scratchpads. On CUDA: cuBLAS SGEMMs and a bias
// kernel (linear_cublas.h); the bias gradient there is sum_except_dim1.
#include "framework/ops/linear.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/reduce.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/linear.h"

namespace nf::ops {

namespace {

using dnnl::memory;

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

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::inner_product_forward::primitive_desc forward_pd(const Shape& x, const Shape& w, bool bias,
                                                       dnnl::prop_kind prop, const dnnl::primitive_attr& attr) {
  using D = dnnl::inner_product_forward::desc;
  auto src = cpu::plain_desc(x), wei = cpu::plain_desc(w), dst = cpu::plain_desc({x[0], w[0]});
  D d = bias ? D(prop, src, wei, cpu::plain_desc({w[0]}), dst) : D(prop, src, wei, dst);
  return {d, attr, cpu::engine()};
}

struct Primitive {
  dnnl::primitive prim;
  memory::desc scratchpad;
};

// The forward runs in blocks of kRowBlock rows through one primitive, the last block
// zero-padded, so every row goes through the same kernel whatever the batch size and
// each output row is bitwise independent of the other rows (oneDNN would otherwise
// pick gemv for one row and gemm for many, which sum in different orders).
constexpr int64_t kRowBlock = 16;

void cpu_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, bool training) {
  const bool bias = b.defined();
  const int64_t n = x.size(0), k = x.size(1), o = w.size(0);
  const Shape block{kRowBlock, k};
  auto& f = cpu::cached<Primitive>(cpu::key("linear_fwd", block, w.shape(), bias, training), [&] {
    auto pd = forward_pd(block, w.shape(), bias,
                         training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
                         user_scratchpad());
    return Primitive{dnnl::inner_product_forward(pd), pd.scratchpad_desc()};
  });
  const memory::desc src_md = cpu::plain_desc(block), dst_md = cpu::plain_desc({kRowBlock, o});
  std::unordered_map<int, memory> args{{DNNL_ARG_WEIGHTS, cpu::memory(w)},
                                       {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(f.scratchpad, 0)}};
  if (bias) args[DNNL_ARG_BIAS] = cpu::memory(b);
  Tensor tail_x, tail_y;
  for (int64_t r = 0; r < n; r += kRowBlock) {
    const int64_t rows = std::min(kRowBlock, n - r);
    float* xp = x.data<float>() + r * k;
    float* yp = y.data<float>() + r * o;
    if (rows < kRowBlock) {
      tail_x = Tensor::zeros(block);
      tail_y = Tensor::empty({kRowBlock, o});
      std::memcpy(tail_x.raw_data(), xp, rows * k * sizeof(float));
      xp = tail_x.data<float>();
      yp = tail_y.data<float>();
    }
    args[DNNL_ARG_SRC] = memory(src_md, cpu::engine(), xp);
    args[DNNL_ARG_DST] = memory(dst_md, cpu::engine(), yp);
    f.prim.execute(cpu::stream(), args);
    if (rows < kRowBlock) std::memcpy(y.data<float>() + r * o, yp, rows * o * sizeof(float));
  }
}

// dx = gy w; dw = gy^T x (+ db = column sums of gy). Only the gradients asked for are
// computed; db alone (frozen weight) is a plain reduction.
void cpu_backward(const Shape& xs, const Shape& ws, const Tensor& x, const Tensor& w, const Tensor& gy, Tensor* dx,
                  Tensor* dw, Tensor* db) {
  if (dx) {
    auto& bd = cpu::cached<Primitive>(cpu::key("linear_bwd_data", xs, ws), [&] {
      dnnl::inner_product_backward_data::desc d(cpu::plain_desc(xs), cpu::plain_desc(ws), cpu::plain_desc(gy.shape()));
      dnnl::inner_product_backward_data::primitive_desc pd(
          d, user_scratchpad(), cpu::engine(), forward_pd(xs, ws, false, dnnl::prop_kind::forward_training, {}));
      return Primitive{dnnl::inner_product_backward_data(pd), pd.scratchpad_desc()};
    });
    *dx = Tensor::empty(xs);
    bd.prim.execute(cpu::stream(), {{DNNL_ARG_DIFF_DST, cpu::memory(gy)},
                                    {DNNL_ARG_WEIGHTS, cpu::memory(w)},
                                    {DNNL_ARG_DIFF_SRC, cpu::memory(*dx)},
                                    {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(bd.scratchpad, 0)}});
  }
  if (dw) {
    const bool bias = db != nullptr;
    auto& bw = cpu::cached<Primitive>(cpu::key("linear_bwd_weights", xs, ws, bias), [&] {
      using D = dnnl::inner_product_backward_weights::desc;
      auto src = cpu::plain_desc(xs), wei = cpu::plain_desc(ws), dst = cpu::plain_desc(gy.shape());
      D d = bias ? D(src, wei, cpu::plain_desc({ws[0]}), dst) : D(src, wei, dst);
      dnnl::inner_product_backward_weights::primitive_desc pd(
          d, user_scratchpad(), cpu::engine(), forward_pd(xs, ws, bias, dnnl::prop_kind::forward_training, {}));
      return Primitive{dnnl::inner_product_backward_weights(pd), pd.scratchpad_desc()};
    });
    *dw = Tensor::empty(ws);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, cpu::memory(x)},
                                         {DNNL_ARG_DIFF_DST, cpu::memory(gy)},
                                         {DNNL_ARG_DIFF_WEIGHTS, cpu::memory(*dw)},
                                         {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(bw.scratchpad, 0)}};
    if (bias) {
      *db = Tensor::empty({ws[0]});
      args[DNNL_ARG_DIFF_BIAS] = cpu::memory(*db);
    }
    bw.prim.execute(cpu::stream(), args);
  } else if (db) {
    *db = sum_except_dim1(gy);
  }
}

void cuda_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  cuda::Scope scope(x.device());
  cuda::linear_forward(x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr, y.data<float>(),
                       x.size(0), x.size(1), w.size(0));
}

// As cpu_backward: only the gradients asked for.
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
    case DeviceType::CPU: cpu_forward(x, w, b, y, training); break;
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
        cpu_backward(xs, ws, x_saved, w_saved, gy, need_dx ? &dx : nullptr, need_dw ? &dw : nullptr,
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
