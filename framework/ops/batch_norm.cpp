// batch_norm: forward and backward on the plain NCHW buffer, seen as [N, C, L]
// (L = H*W, L or 1): channel c of image i is the L floats at (i*C + c)*L.
// Per-channel sums are taken in double, as PyTorch's CPU kernel does (its acc_type
// of float is double): oneDNN 2.6 sums in float, which under cancellation (sum(dy)
// far below sum|dy|, or inputs far from zero mean) loses ~1e-4 relative in dbias
// (test BatchNormTrain.SumsUnderCancellationMatchFloat64).
// - Forward: the batch mean and biased variance are ours (two passes in double);
//   oneDNN's batch_normalization_forward normalizes with them, or with the running
//   statistics in evaluation, through use_global_stats (flags use_scale/use_shift
//   when weight/bias are given). The running statistics are updated here.
// - Backward: plain loops with PyTorch's formulas (batch_norm_cpu_backward), per
//   channel in parallel; see cpu_backward.
#include "framework/ops/batch_norm.h"

#include <cmath>
#include <unordered_map>
#include <vector>

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

// The [N, C, L] view of x; channels are processed in parallel when there are at
// least kParallelMin values (below that, waking threads costs more than it saves).
struct Planes {
  static constexpr int64_t kParallelMin = int64_t{1} << 15;
  int64_t N, C, L;
  explicit Planes(const Tensor& x) : N(x.size(0)), C(x.size(1)), L(x.numel() / (x.size(0) * x.size(1))) {}
  int64_t at(int64_t i, int64_t c) const { return (i * C + c) * L; }
  bool parallel() const { return N * C * L >= kParallelMin; }
};

// y = weight * (x - mean) / sqrt(var + eps) + bias, with the given [C] statistics.
void cpu_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& mean, const Tensor& var,
                 Tensor& y, float eps) {
  Shape s4 = as_4d(x.shape());
  auto f = normalization_flags::use_global_stats;
  if (w.defined()) f = f | normalization_flags::use_scale;
  if (b.defined()) f = f | normalization_flags::use_shift;
  auto& p = cpu::cached<dnnl::batch_normalization_forward>(cpu::key("bn_fwd", s4, eps, unsigned(f)), [&] {
    dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, cpu::plain_desc(s4), eps, f);
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

// Batch mean and biased variance per channel, in double (PyTorch's two passes);
// also stored, rounded, into the [C] tensors the forward and backward use.
void cpu_batch_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var, Tensor& mean_f,
                     Tensor& var_f) {
  const Planes p(x);
  const double n = static_cast<double>(p.N * p.L);
  const float* px = x.data<float>();
  float* pm = mean_f.data<float>();
  float* pv = var_f.data<float>();
#pragma omp parallel for if (p.parallel())
  for (int64_t c = 0; c < p.C; ++c) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < p.N; ++i) {
      const float* xp = px + p.at(i, c);
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < p.L; ++j) sum += xp[j];
    }
    const double m = sum / n;
    for (int64_t i = 0; i < p.N; ++i) {
      const float* xp = px + p.at(i, c);
#pragma omp simd reduction(+ : sq)
      for (int64_t j = 0; j < p.L; ++j) sq += (xp[j] - m) * (xp[j] - m);
    }
    mean[c] = m;
    var[c] = sq / n;
    pm[c] = static_cast<float>(m);
    pv[c] = static_cast<float>(var[c]);
  }
}

// PyTorch's batch_norm_cpu_backward, per channel c with invstd = 1/sqrt(var + eps)
// and the sums sum_dy = Σ dy, sum_dy_xmu = Σ dy * (x - mean) taken in double:
//   batch statistics: dx = (dy - sum_dy/n - (x - mean) * sum_dy_xmu * invstd^2 / n) * invstd * weight
//   given statistics: dx = dy * invstd * weight
//   dweight = sum_dy_xmu * invstd, dbias = sum_dy.
// Only the defined outputs among dx, dw, db are computed; mean/var are [C], what the forward used.
void cpu_backward(const Tensor& x, const Tensor& dy, const Tensor& w, const Tensor& mean, const Tensor& var,
                  double eps, bool batch_stats, Tensor& dx, Tensor& dw, Tensor& db) {
  const Planes p(x);
  const double n = static_cast<double>(p.N * p.L);
  const float *px = x.data<float>(), *pg = dy.data<float>(), *pm = mean.data<float>(), *pv = var.data<float>();
  const float* pw = w.defined() ? w.data<float>() : nullptr;
  float* pdx = dx.defined() ? dx.data<float>() : nullptr;
  float* pdw = dw.defined() ? dw.data<float>() : nullptr;
  float* pdb = db.defined() ? db.data<float>() : nullptr;
  const bool sums = (pdx && batch_stats) || pdw || pdb;
#pragma omp parallel for if (p.parallel())
  for (int64_t c = 0; c < p.C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(pv[c]) + eps);
    const float m = pm[c];
    double sum_dy = 0, sum_dy_xmu = 0;
    for (int64_t i = 0; sums && i < p.N; ++i) {
      const float *xp = px + p.at(i, c), *gp = pg + p.at(i, c);
#pragma omp simd reduction(+ : sum_dy, sum_dy_xmu)
      for (int64_t j = 0; j < p.L; ++j) {
        sum_dy += gp[j];
        sum_dy_xmu += static_cast<double>(gp[j]) * (xp[j] - m);
      }
    }
    if (pdw) pdw[c] = static_cast<float>(sum_dy_xmu * invstd);
    if (pdb) pdb[c] = static_cast<float>(sum_dy);
    if (!pdx) continue;
    const float scale = static_cast<float>(invstd * (pw ? pw[c] : 1.0f));
    const float grad_mean = batch_stats ? static_cast<float>(sum_dy / n) : 0.f;
    const float k = batch_stats ? static_cast<float>(sum_dy_xmu * invstd * invstd / n) : 0.f;
    for (int64_t i = 0; i < p.N; ++i) {
      const float *xp = px + p.at(i, c), *gp = pg + p.at(i, c);
      float* dxp = pdx + p.at(i, c);
#pragma omp simd
      for (int64_t j = 0; j < p.L; ++j) dxp[j] = (gp[j] - grad_mean - (xp[j] - m) * k) * scale;
    }
  }
}

// The PyTorch running-statistics update from the double batch statistics.
void cpu_update_running_stats(BatchNormState& s, const std::vector<double>& mean, const std::vector<double>& var,
                              int64_t n, std::optional<double> momentum) {
  int64_t& count = s.num_batches_tracked.data<int64_t>()[0];
  count += 1;
  const double factor = momentum ? *momentum : 1.0 / static_cast<double>(count);
  const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
  float* rm = s.running_mean.data<float>();
  float* rv = s.running_var.data<float>();
  for (size_t c = 0; c < mean.size(); ++c) {
    rm[c] = static_cast<float>((1.0 - factor) * rm[c] + factor * mean[c]);
    rv[c] = static_cast<float>((1.0 - factor) * rv[c] + factor * (var[c] * unbias));
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
    case DeviceType::CPU:
      if (use_batch_stats) {
        std::vector<double> batch_mean(C), batch_var(C);
        cpu_batch_stats(x, batch_mean, batch_var, mean, var);
        if (state.running_mean.defined()) cpu_update_running_stats(state, batch_mean, batch_var, n, momentum);
      }
      cpu_forward(x, w, b, mean, var, y, static_cast<float>(eps));
      break;
    default: unsupported_device("batch_norm", x);
  }
  if (!grad) return y;

  const bool need_dx = x_in.requires_grad();
  const bool need_dw = weight_in.defined() && weight_in.requires_grad();
  const bool need_db = bias_in.defined() && bias_in.requires_grad();
  auto backward = [x, w, mean, var, eps, use_batch_stats, need_dx, need_dw, need_db](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx = need_dx ? Tensor::empty(x.shape(), DType::F32, x.device()) : Tensor();
    Tensor dw = need_dw ? Tensor::empty({x.size(1)}, DType::F32, x.device()) : Tensor();
    Tensor db = need_db ? Tensor::empty({x.size(1)}, DType::F32, x.device()) : Tensor();
    switch (x.device().type) {
      case DeviceType::CPU: cpu_backward(x, dy, w, mean, var, eps, use_batch_stats, dx, dw, db); break;
      default: unsupported_device("batch_norm backward", x);
    }
    return std::vector<Tensor>{dx, dw, db};
  };
  return record(y, "batch_norm", {x_in, weight_in, bias_in}, backward);
}

}  // namespace nf::ops
