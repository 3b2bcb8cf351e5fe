// batch_norm: forward and backward, with the optional fused residual add and ReLU.
// One device-independent frame (checks, layout, the statistics the backward keeps, the
// autograd closure) with one branch per device.
// CPU (framework/backends/cpu/batch_norm.h): kernels over rows with the channel
// innermost; a blocked input stays blocked, others are converted to channels-last; y
// takes that format. Per-channel sums in double, as PyTorch's CPU kernel.
// CUDA (framework/backends/cuda/batch_norm.h): kernels with the same formulas and
// double sums, on x in its own dense format (NCHW or channels-last); y, the residual and
// the gradient have that format. num_batches_tracked += 1 runs on the device.
#include "framework/ops/batch_norm.h"

#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/batch_norm.h"
#include "framework/backends/cuda/batch_norm.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

void check_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias, const BatchNormState& s,
                  bool use_batch_stats) {
  NF_CHECK(x.dim() >= 2 && x.dim() <= 4,
           "batch_norm: expected input [N, C], [N, C, L] or [N, C, H, W], got " + x.str());
  check_dtype("batch_norm", x, DType::F32);
  const int64_t C = x.size(1);
  check_same_device("batch_norm", {x, weight, bias, s.running_mean, s.running_var, s.num_batches_tracked});
  auto check_vec = [&](const Tensor& t, const char* name) {
    if (!t.defined()) return;
    check_dtype("batch_norm", t, DType::F32);
    NF_CHECK(t.shape() == Shape{C}, std::string("batch_norm: ") + name + " has shape " + shape_str(t.shape()) +
                                        ", expected [" + std::to_string(C) + "] for input " + shape_str(x.shape()));
  };
  check_vec(weight, "weight");
  check_vec(bias, "bias");
  check_vec(s.running_mean, "running_mean");
  check_vec(s.running_var, "running_var");
  const bool tracked = s.running_mean.defined();
  NF_CHECK(tracked == s.running_var.defined() && tracked == s.num_batches_tracked.defined(),
           "batch_norm: running_mean, running_var and num_batches_tracked must be all defined or all undefined");
  if (tracked) {
    check_dtype("batch_norm", s.num_batches_tracked, DType::I64);
    NF_CHECK(s.num_batches_tracked.numel() == 1,
             "batch_norm: num_batches_tracked must have one element, got " + s.num_batches_tracked.str());
  }
  NF_CHECK(use_batch_stats || tracked, "batch_norm: evaluation with the running statistics needs running_mean/var");
  NF_CHECK(x.numel() > 0, "batch_norm: empty input " + shape_str(x.shape()));
  NF_CHECK(!use_batch_stats || x.numel() / C > 1,
           "Expected more than 1 value per channel when training, got input size " + shape_str(x.shape()));
}

// The memory format the op works in: blocked or channels-last rows on the CPU (see the
// top); on CUDA x's own dense format (its kernels take either), so that
// y = Tensor::empty_like(x.dense()).
MemoryFormat work_format(const Tensor& x) {
  if (x.device().is_cpu())
    return x.memory_format() == MemoryFormat::Blocked16 ? MemoryFormat::Blocked16 : MemoryFormat::ChannelsLast;
  return x.is_dense() ? x.memory_format() : MemoryFormat::Contiguous;
}

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, BatchNormState& state,
                  bool use_batch_stats, std::optional<double> momentum, double eps, const BatchNormFusion& fuse) {
  check_inputs(x_in, weight_in, bias_in, state, use_batch_stats);
  const Tensor& res_in = fuse.residual;
  if (res_in.defined()) {
    check_same_device("batch_norm", {x_in, res_in});
    check_dtype("batch_norm", res_in, DType::F32);
    NF_CHECK(res_in.shape() == x_in.shape(), "batch_norm: residual " + shape_str(res_in.shape()) +
                                                 " does not match the input " + shape_str(x_in.shape()));
  }
  const int64_t C = x_in.size(1);
  const MemoryFormat layout = work_format(x_in);
  Tensor x = x_in.contiguous(layout).detach();
  Tensor res = res_in.defined() ? res_in.contiguous(layout).detach() : Tensor();
  Tensor w = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  Tensor b = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();
  const bool grad = needs_grad({x_in, weight_in, bias_in, res_in});

  // Statistics used to normalize: fresh batch ones, or a snapshot of the running
  // ones (the backward must see what the forward saw).
  Tensor mean, var;
  if (use_batch_stats) {
    mean = Tensor::empty({C}, DType::F32, x.device());
    var = Tensor::empty({C}, DType::F32, x.device());
  } else {
    mean = grad ? state.running_mean.clone() : state.running_mean.contiguous().detach();
    var = grad ? state.running_var.clone() : state.running_var.contiguous().detach();
  }
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device(), layout);
  switch (x.device().type) {
    case DeviceType::CPU:
      if (use_batch_stats)
        cpu::batch_norm_stats(x, mean, var, state.running_mean, state.running_var, state.num_batches_tracked,
                              momentum);
      cpu::batch_norm_apply(x, w, b, mean, var, eps, res, fuse.relu, y);
      break;
    case DeviceType::CUDA:
      if (use_batch_stats) {
        double factor = 0.0;  // unused when the statistics are not tracked
        if (state.running_mean.defined()) {
          cuda::increment_(state.num_batches_tracked);
          // The cumulative average needs the count on the host (one synchronizing read).
          factor = momentum ? *momentum : 1.0 / state.num_batches_tracked.item();
        }
        cuda::batch_norm_stats(x, mean, var, state.running_mean, state.running_var, factor);
      }
      cuda::batch_norm_apply(x, w, b, mean, var, eps, res, fuse.relu, y);
      break;
    default: unsupported_device("batch_norm", x);
  }
  if (!grad) return y;

  const bool need_dx = x_in.requires_grad();
  const bool need_dw = weight_in.defined() && weight_in.requires_grad();
  const bool need_db = bias_in.defined() && bias_in.requires_grad();
  const bool need_dres = res_in.defined() && res_in.requires_grad();
  const Tensor y_relu = fuse.relu ? y.detach() : Tensor();
  auto backward = [=](const Tensor& g_in) {
    Tensor g = g_in.contiguous(layout);
    auto make = [&](bool need, const Shape& s) {
      return need ? Tensor::empty(s, DType::F32, x.device(), s.size() == 1 ? MemoryFormat::Contiguous : layout)
                  : Tensor();
    };
    Tensor dx = make(need_dx, x.shape()), dw = make(need_dw, {C}), db = make(need_db, {C});
    // Without a ReLU the residual's gradient is g itself; with one it is the masked g.
    Tensor dres = need_dres && fuse.relu ? make(true, x.shape()) : Tensor();
    switch (x.device().type) {
      case DeviceType::CPU:
        cpu::batch_norm_backward(x, g, y_relu, w, mean, var, eps, use_batch_stats, dx, dw, db, dres);
        break;
      case DeviceType::CUDA:
        cuda::batch_norm_backward(x, g, y_relu, w, mean, var, eps, use_batch_stats, dx, dw, db, dres);
        break;
      default: unsupported_device("batch_norm backward", x);
    }
    if (need_dres && !fuse.relu) dres = g;
    return std::vector<Tensor>{dx, dw, db, dres};
  };
  return record(y, "batch_norm", {x_in, weight_in, bias_in, res_in}, backward);
}

FoldedConv fold_batch_norm(const Tensor& w_in, const Tensor& b, const BatchNormState& state, const Tensor& gamma,
                           const Tensor& beta, double eps) {
  check_same_device("fold_batch_norm", {w_in, b, state.running_mean, state.running_var, gamma, beta});
  NF_CHECK(state.running_mean.defined(), "fold_batch_norm: needs running statistics");
  const Tensor w = w_in.contiguous();
  const int64_t O = w.size(0), per_out = w.numel() / O;
  FoldedConv f{Tensor::empty(w.shape(), DType::F32, w.device()), Tensor::empty({O}, DType::F32, w.device())};
  auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };  // [O]: contiguous
  const float *pb = ptr(b), *pg = ptr(gamma), *pbeta = ptr(beta);
  const float *mean = ptr(state.running_mean), *var = ptr(state.running_var);
  switch (w.device().type) {
    case DeviceType::CPU:
      cpu::fold_batch_norm(w.data<float>(), pb, mean, var, pg, pbeta, eps, O, per_out, f.weight.data<float>(),
                           f.bias.data<float>());
      break;
    case DeviceType::CUDA:
      cuda::fold_batch_norm(w.device(), w.data<float>(), pb, mean, var, pg, pbeta, eps, O, per_out, f.weight.data<float>(),
                            f.bias.data<float>());
      break;
    default: unsupported_device("fold_batch_norm", w);
  }
  return f;
}

}  // namespace nf::ops
