// batch_norm: forward and backward. CPU through oneDNN's batch_normalization
// primitives on the plain NCHW buffer viewed as 4-D ([N,C] -> [N,C,1,1],
// [N,C,L] -> [N,C,L,1]); flags: use_scale/use_shift when weight/bias are given,
// use_global_stats in evaluation (without it oneDNN would silently use batch
// statistics). Training returns the batch mean and biased variance, which the
// backward reuses; the running statistics are updated here, not by oneDNN.
#include "framework/ops/batch_norm.h"

#include <unordered_map>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

using dnnl::normalization_flags;

Shape as_4d(const Shape& s) {
  Shape out = s;
  while (out.size() < 4) out.push_back(1);
  return out;
}

normalization_flags bn_flags(bool global_stats, bool scale, bool shift) {
  auto f = normalization_flags::none;
  if (global_stats) f = f | normalization_flags::use_global_stats;
  if (scale) f = f | normalization_flags::use_scale;
  if (shift) f = f | normalization_flags::use_shift;
  return f;
}

// y = bn(x); mean/var are outputs (batch statistics) or inputs (global statistics).
void cpu_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& mean, const Tensor& var,
                 Tensor& y, float eps, bool global_stats) {
  Shape s4 = as_4d(x.shape());
  const normalization_flags f = bn_flags(global_stats, w.defined(), b.defined());
  auto& p = cpu::cached<dnnl::batch_normalization_forward>(cpu::key("bn_fwd", s4, eps, unsigned(f)), [&] {
    dnnl::batch_normalization_forward::desc d(
        global_stats ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training,
        cpu::plain_desc(s4), eps, f);
    return dnnl::batch_normalization_forward(
        dnnl::batch_normalization_forward::primitive_desc(d, cpu::engine()));
  });
  auto md = cpu::plain_desc(s4);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, cpu::memory(md, x)},
                                             {DNNL_ARG_DST, cpu::memory(md, y)},
                                             {DNNL_ARG_MEAN, cpu::memory(mean)},
                                             {DNNL_ARG_VARIANCE, cpu::memory(var)}};
  if (w.defined()) args[DNNL_ARG_SCALE] = cpu::memory(w);
  if (b.defined()) args[DNNL_ARG_SHIFT] = cpu::memory(b);
  p.execute(cpu::stream(), args);
}

// dx, and dw/db when weight/bias are given, from dy and the statistics the forward
// used. oneDNN's backward_data takes no scale (on plain layouts), so with weight or
// bias it is prop_kind::backward, whose dw/db are dropped when they are not wanted.
void cpu_backward(const Tensor& x, const Tensor& dy, const Tensor& w, const Tensor& b, const Tensor& mean,
                  const Tensor& var, Tensor& dx, Tensor& dw, Tensor& db, float eps, bool global_stats) {
  Shape s4 = as_4d(x.shape());
  const normalization_flags f = bn_flags(global_stats, w.defined(), b.defined());
  auto& p = cpu::cached<dnnl::batch_normalization_backward>(cpu::key("bn_bwd", s4, eps, unsigned(f)), [&] {
    auto md = cpu::plain_desc(s4);
    // The hint is the training forward with the same flags (as oneDNN expects).
    dnnl::batch_normalization_forward::desc hd(dnnl::prop_kind::forward_training, md, eps, f);
    dnnl::batch_normalization_forward::primitive_desc hint(hd, cpu::engine());
    const bool affine = w.defined() || b.defined();
    dnnl::batch_normalization_backward::desc d(
        affine ? dnnl::prop_kind::backward : dnnl::prop_kind::backward_data, md, md, eps, f);
    return dnnl::batch_normalization_backward(
        dnnl::batch_normalization_backward::primitive_desc(d, cpu::engine(), hint));
  });
  auto md = cpu::plain_desc(s4);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, cpu::memory(md, x)},
                                             {DNNL_ARG_DIFF_DST, cpu::memory(md, dy)},
                                             {DNNL_ARG_MEAN, cpu::memory(mean)},
                                             {DNNL_ARG_VARIANCE, cpu::memory(var)},
                                             {DNNL_ARG_DIFF_SRC, cpu::memory(md, dx)}};
  if (w.defined()) {
    args[DNNL_ARG_SCALE] = cpu::memory(w);
    args[DNNL_ARG_DIFF_SCALE] = cpu::memory(dw);
  }
  if (b.defined()) {
    args[DNNL_ARG_SHIFT] = cpu::memory(b);  // unused by the math, but oneDNN requires it
    args[DNNL_ARG_DIFF_SHIFT] = cpu::memory(db);
  }
  p.execute(cpu::stream(), args);
}

// The PyTorch running-statistics update (in double, as PyTorch's CPU kernel).
void update_running_stats(BatchNormState& s, const Tensor& mean, const Tensor& var, int64_t n,
                          std::optional<double> momentum) {
  switch (s.running_mean.device().type) {
    case DeviceType::CPU: {
      int64_t& count = s.num_batches_tracked.data<int64_t>()[0];
      count += 1;
      const double factor = momentum ? *momentum : 1.0 / static_cast<double>(count);
      const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
      float* rm = s.running_mean.data<float>();
      float* rv = s.running_var.data<float>();
      const float* m = mean.data<float>();
      const float* v = var.data<float>();
      for (int64_t c = 0; c < mean.numel(); ++c) {
        rm[c] = static_cast<float>((1.0 - factor) * rm[c] + factor * m[c]);
        rv[c] = static_cast<float>((1.0 - factor) * rv[c] + factor * (v[c] * unbias));
      }
      break;
    }
    default: unsupported_device("batch_norm running statistics", s.running_mean);
  }
}

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

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, BatchNormState& state,
                  bool use_batch_stats, std::optional<double> momentum, double eps) {
  check_inputs(x_in, weight_in, bias_in, state, use_batch_stats);
  const int64_t C = x_in.size(1), n = x_in.numel() / C;
  const float feps = static_cast<float>(eps);
  Tensor x = x_in.contiguous().detach();
  Tensor w = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  Tensor b = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();
  const bool grad = needs_grad({x_in, weight_in, bias_in});

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
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  switch (x.device().type) {
    case DeviceType::CPU: cpu_forward(x, w, b, mean, var, y, feps, !use_batch_stats); break;
    default: unsupported_device("batch_norm", x);
  }
  if (use_batch_stats && state.running_mean.defined()) {
    NoGradGuard ng;
    update_running_stats(state, mean, var, n, momentum);
  }
  if (!grad) return y;

  const bool global_stats = !use_batch_stats;
  return record(y, "batch_norm", {x_in, weight_in, bias_in}, [x, w, b, mean, var, feps, global_stats](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = Tensor::empty(x.shape(), DType::F32, x.device());
    Tensor dw = w.defined() ? Tensor::empty(w.shape(), DType::F32, x.device()) : Tensor();
    Tensor db = b.defined() ? Tensor::empty(b.shape(), DType::F32, x.device()) : Tensor();
    switch (x.device().type) {
      case DeviceType::CPU: cpu_backward(x, dy, w, b, mean, var, dx, dw, db, feps, global_stats); break;
      default: unsupported_device("batch_norm backward", x);
    }
    return std::vector<Tensor>{dx, dw, db};  // autograd drops dw/db of a frozen weight/bias
  });
}

}  // namespace nf::ops
