// CPU Batch Normalization kernels (layouts and summation: batch_norm.h).
// - Forward: batch mean and biased variance in one pass, shifted by the first row
//   (sums of x - K and (x - K)^2, K = x[0, c]: exact in double for any offset), then
//   y = x * alpha + beta with alpha = weight * invstd, beta = bias - mean * alpha
//   (PyTorch's batch_norm_cpu_transform_input), + residual, ReLU, in one pass.
// - Backward: PyTorch's batch_norm_cpu_backward formulas, one pass for the sums (with
//   the ReLU mask applied to dy and the residual's gradient written out), one for dx.
// The row kernels shared with GroupNorm (sums, affine, gradient sums) are in channel_rows.h.
#include "framework/backends/cpu/batch_norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/backends/cpu/channel_rows.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/backends/cpu/vectorize.h"

namespace nf::cpu {

namespace {

// Rows [r0, r1) of `width` channels starting at channel c0, the first row `offset`
// elements into the tensor: what one kernel call below sees.
struct Segment {
  int64_t offset, r0, r1, c0, width;
};

// The rows of x (see batch_norm.h), split into one range per thread: a range of the M rows
// (channels-last), or of the N*C/16 blocks (blocked). Below kParallelMin values one
// thread does it all (waking threads costs more).
struct Rows {
  static constexpr int64_t kParallelMin = int64_t{1} << 15;
  int64_t M, C;
  int threads;
  int64_t plane = 0;  // blocked: H*W rows per block
  explicit Rows(const Tensor& x)
      : M(x.numel() / x.size(1)), C(x.size(1)), threads(M * C >= kParallelMin ? cpu::num_threads() : 1) {
    if (x.memory_format() == MemoryFormat::Blocked16) plane = x.size(2) * x.size(3);
  }
  // Calls f(thread, segment) for each segment of each thread's range, in parallel.
  template <class F>
  void for_segments(const F& f) const {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      const int64_t units = plane ? M / plane * (C / 16) : M;  // blocks or rows
      const int64_t per = (units + T - 1) / T;
      const int64_t u0 = std::min(units, t * per), u1 = std::min(units, u0 + per);
      if (!plane) {
        f(t, Segment{0, u0, u1, 0, C});
      } else {
        for (int64_t blk = u0; blk < u1; ++blk) f(t, Segment{blk * plane * 16, 0, plane, blk % (C / 16) * 16, 16});
      }
    }
  }
  // x[0, c, 0, 0] for every c: the shift of the one-pass statistics.
  std::vector<float> first_pixel(const float* x) const {
    std::vector<float> k(C);
    for (int64_t c = 0; c < C; ++c) k[c] = plane ? x[c / 16 * plane * 16 + c % 16] : x[c];
    return k;
  }
};

// dx = (g' - grad_mean[c] - (x - mean[c]) * k[c]) * scale[c] over rows [r0, r1), g' as in sum_grad.
NF_VECTORIZE void grad_input(const float* __restrict x, const float* __restrict g, const float* __restrict y,
                             float* __restrict dx, int64_t r0, int64_t r1, int64_t C, const float* __restrict mean,
                             const float* __restrict grad_mean, const float* __restrict k,
                             const float* __restrict scale) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * C;
    const float* __restrict xr = x + o;
    float* __restrict dr = dx + o;
    if (y) mask_row(g + o, y + o, dr, C);  // dr holds g' first
    const float* __restrict gv = y ? dr : g + o;
    for (int64_t c = 0; c < C; ++c) dr[c] = (gv[c] - grad_mean[c] - (xr[c] - mean[c]) * k[c]) * scale[c];
  }
}

// Per-thread [C] double partials, summed in thread order into out (deterministic).
struct Partials {
  int64_t C;
  std::vector<double> a, b;
  Partials(const Rows& rows) : C(rows.C), a(rows.threads * rows.C, 0.0), b(rows.threads * rows.C, 0.0) {}
  double* a_of(int t) { return a.data() + t * C; }
  double* b_of(int t) { return b.data() + t * C; }
  void total(std::vector<double>& ta, std::vector<double>& tb) const {
    ta.assign(C, 0.0);
    tb.assign(C, 0.0);
    for (size_t t = 0; t < a.size() / C; ++t)
      for (int64_t c = 0; c < C; ++c) {
        ta[c] += a[t * C + c];
        tb[c] += b[t * C + c];
      }
  }
};

}  // namespace

void batch_norm_moments(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  const Rows rows(x);
  const float* px = x.data<float>();
  const std::vector<float> shift = rows.first_pixel(px);
  Partials part(rows);
  rows.for_segments([&](int t, const Segment& s) {
    sum_shifted(px + s.offset, s.r0, s.r1, s.width, shift.data() + s.c0, part.a_of(t) + s.c0, part.b_of(t) + s.c0);
  });
  std::vector<double> s1, s2;
  part.total(s1, s2);
  const double n = static_cast<double>(rows.M);
  mean.resize(rows.C), var.resize(rows.C);
  for (int64_t c = 0; c < rows.C; ++c) {
    const double d = s1[c] / n;
    mean[c] = shift[c] + d;
    var[c] = std::max(0.0, s2[c] / n - d * d);
  }
}

void batch_norm_set_stats(const std::vector<double>& mean, const std::vector<double>& var, int64_t n, Tensor& mean_f,
                          Tensor& var_f, Tensor& running_mean, Tensor& running_var, double factor) {
  for (size_t c = 0; c < mean.size(); ++c) {
    mean_f.data<float>()[c] = static_cast<float>(mean[c]);
    var_f.data<float>()[c] = static_cast<float>(var[c]);
  }
  if (!running_mean.defined()) return;
  const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
  float* rm = running_mean.data<float>();
  float* rv = running_var.data<float>();
  for (size_t c = 0; c < mean.size(); ++c) {
    rm[c] = static_cast<float>((1.0 - factor) * rm[c] + factor * mean[c]);
    rv[c] = static_cast<float>((1.0 - factor) * rv[c] + factor * (var[c] * unbias));
  }
}

void batch_norm_stats(const Tensor& x, Tensor& mean, Tensor& var, Tensor& running_mean, Tensor& running_var,
                      double factor) {
  std::vector<double> batch_mean, batch_var;
  batch_norm_moments(x, batch_mean, batch_var);
  batch_norm_set_stats(batch_mean, batch_var, x.numel() / x.size(1), mean, var, running_mean, running_var, factor);
}

// y = relu?(weight * (x - mean) / sqrt(var + eps) + bias + res?) with the given [C] statistics.
void batch_norm_apply(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& mean, const Tensor& var,
                      double eps, const Tensor& res, bool relu, Tensor& y) {
  const Rows rows(x);
  std::vector<float> alpha(rows.C), beta(rows.C);
  for (int64_t c = 0; c < rows.C; ++c) {
    const float invstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var.data<float>()[c]) + eps));
    alpha[c] = w.defined() ? invstd * w.data<float>()[c] : invstd;
    beta[c] = (b.defined() ? b.data<float>()[c] : 0.f) - mean.data<float>()[c] * alpha[c];
  }
  const float* pr = res.defined() ? res.data<float>() : nullptr;
  rows.for_segments([&](int, const Segment& s) {
    affine_rows(x.data<float>() + s.offset, pr ? pr + s.offset : nullptr, y.data<float>() + s.offset, s.r0, s.r1,
                s.width, alpha.data() + s.c0, beta.data() + s.c0, relu);
  });
}

// PyTorch's batch_norm_cpu_backward, per channel c with invstd = 1/sqrt(var + eps)
// and the sums sum_dy = Σ dy, sum_dy_xmu = Σ dy * (x - mean) taken in double:
//   batch statistics: dx = (dy - sum_dy/n - (x - mean) * sum_dy_xmu * invstd^2 / n) * invstd * weight
//   given statistics: dx = dy * invstd * weight
//   dweight = sum_dy_xmu * invstd, dbias = sum_dy.
// dy here is the gradient masked by the fused ReLU (y_relu: its output, or undefined);
// dres (if defined) receives that masked gradient. Only defined outputs are computed.
BatchNormGradSums batch_norm_grad_sums(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& mean,
                                       Tensor& dres) {
  const Rows rows(x);
  const int64_t C = rows.C;
  const float *px = x.data<float>(), *pg = g.data<float>(), *pm = mean.data<float>();
  const float* py = y_relu.defined() ? y_relu.data<float>() : nullptr;
  float* pres = dres.defined() ? dres.data<float>() : nullptr;
  Partials part(rows);
  std::vector<float> masked(rows.threads * C);  // one row of scratch per thread, allocated once
  rows.for_segments([&](int t, const Segment& s) {
    sum_grad(px + s.offset, pg + s.offset, py ? py + s.offset : nullptr, pres ? pres + s.offset : nullptr,
             masked.data() + t * C, s.r0, s.r1, s.width, pm + s.c0, part.a_of(t) + s.c0, part.b_of(t) + s.c0);
  });
  BatchNormGradSums sums;
  part.total(sums.dy, sums.dy_xmu);
  return sums;
}

void batch_norm_grad_apply(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& w,
                           const Tensor& mean, const Tensor& var, double eps, bool batch_stats,
                           const BatchNormGradSums& local, const BatchNormGradSums& total, double n, Tensor& dx,
                           Tensor& dw, Tensor& db) {
  const Rows rows(x);
  const int64_t C = rows.C;
  std::vector<float> scale(C), grad_mean(C, 0.f), k(C, 0.f);
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(var.data<float>()[c]) + eps);
    if (dw.defined()) dw.data<float>()[c] = static_cast<float>(local.dy_xmu[c] * invstd);
    if (db.defined()) db.data<float>()[c] = static_cast<float>(local.dy[c]);
    scale[c] = static_cast<float>(invstd * (w.defined() ? w.data<float>()[c] : 1.0f));
    if (batch_stats) {
      grad_mean[c] = static_cast<float>(total.dy[c] / n);
      k[c] = static_cast<float>(total.dy_xmu[c] * invstd * invstd / n);
    }
  }
  if (!dx.defined()) return;
  const float *px = x.data<float>(), *pg = g.data<float>(), *pm = mean.data<float>();
  const float* py = y_relu.defined() ? y_relu.data<float>() : nullptr;
  rows.for_segments([&](int, const Segment& s) {
    grad_input(px + s.offset, pg + s.offset, py ? py + s.offset : nullptr, dx.data<float>() + s.offset, s.r0, s.r1,
               s.width, pm + s.c0, grad_mean.data() + s.c0, k.data() + s.c0, scale.data() + s.c0);
  });
}

void batch_norm_backward(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& w,
                         const Tensor& mean, const Tensor& var, double eps, bool batch_stats, Tensor& dx, Tensor& dw,
                         Tensor& db, Tensor& dres) {
  const int64_t C = x.size(1);
  BatchNormGradSums sums{std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
  if ((dx.defined() && batch_stats) || dw.defined() || db.defined() || dres.defined())
    sums = batch_norm_grad_sums(x, g, y_relu, mean, dres);
  batch_norm_grad_apply(x, g, y_relu, w, mean, var, eps, batch_stats, sums, sums, static_cast<double>(x.numel() / C),
                        dx, dw, db);
}

void fold_batch_norm(const float* src, const float* pb, const float* mean, const float* var, const float* pg,
                     const float* pbeta, double eps, int64_t O, int64_t per_out, float* dst, float* bias) {
#pragma omp parallel for if (O * per_out > 65536)
  for (int64_t o = 0; o < O; ++o) {
    const double s = (pg ? pg[o] : 1.f) / std::sqrt(static_cast<double>(var[o]) + eps);
#pragma omp simd
    for (int64_t i = 0; i < per_out; ++i) dst[o * per_out + i] = static_cast<float>(src[o * per_out + i] * s);
    bias[o] = static_cast<float>((static_cast<double>(pb ? pb[o] : 0.f) - mean[o]) * s + (pbeta ? pbeta[o] : 0.f));
  }
}

}  // namespace nf::cpu
