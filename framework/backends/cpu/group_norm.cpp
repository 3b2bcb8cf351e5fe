// CPU Group Normalization kernels (layouts and summation: group_norm.h).
// - Forward: per-(sample, channel) sums of x - K and (x - K)^2 over the rows (K = the
//   group's first value in that sample: exact in double for any offset), combined per
//   group into mean and rstd; then y = x * alpha + beta with per-(sample, channel)
//   coefficients, one pass.
// - Backward: per-(sample, channel) sums of g and g * (x - mean), combined per group
//   into the dx coefficients and per channel into dweight/dbias; one pass for dx.
// The row kernels (sum_shifted, affine_rows, sum_grad) are BatchNorm's (channel_rows.h).
// Work is split over samples (channels-last) or over (sample, 16-channel block)
// (blocked); each unit owns its (sample, channel) sums, so no partials are combined.
#include "framework/backends/cpu/group_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/backends/cpu/channel_rows.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/backends/cpu/vectorize.h"

namespace nf::cpu {

namespace {

// One unit of work: `rows` rows of `width` channels starting at channel c0 of sample n,
// the first row `offset` elements into the tensor.
struct Unit {
  int64_t n, offset, rows, c0, width;
};

// x's units (see group_norm.h): one per sample (channels-last), one per sample and
// 16-channel block (blocked). Below kParallelMin values one thread does it all.
struct Units {
  static constexpr int64_t kParallelMin = int64_t{1} << 15;
  int64_t N, C, S, G;
  bool blocked;
  int threads;
  Units(const Tensor& x, int64_t groups)
      : N(x.size(0)), C(x.size(1)), S(x.numel() / (x.size(0) * x.size(1))), G(groups),
        blocked(x.memory_format() == MemoryFormat::Blocked16),
        threads(x.numel() >= kParallelMin ? cpu::num_threads() : 1) {}
  int64_t count() const { return blocked ? N * (C / 16) : N; }
  Unit unit(int64_t u) const {
    if (!blocked) return {u, u * S * C, S, 0, C};
    return {u / (C / 16), u * S * 16, S, u % (C / 16) * 16, 16};
  }
  // The offset of x[n, c, s].
  int64_t index(int64_t n, int64_t c, int64_t s) const {
    return blocked ? ((n * (C / 16) + c / 16) * S + s) * 16 + c % 16 : (n * S + s) * C + c;
  }
  template <class F>
  void for_units(const F& f) const {
    const int64_t units = count();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t u = 0; u < units; ++u) f(unit(u));
  }
  // A [N, G] value spread over [N, C]: out[n, c] = v[n, c / (C / G)].
  std::vector<float> per_channel(const float* v) const {
    std::vector<float> out(N * C);
    for (int64_t i = 0; i < N * C; ++i) out[i] = v[i / C * G + i % C / (C / G)];
    return out;
  }
};

// dx = g * a[c] + (x - mean[c]) * k[c] + d[c] over rows [0, rows).
NF_VECTORIZE void grad_input(const float* __restrict x, const float* __restrict g, float* __restrict dx, int64_t rows,
                             int64_t C, const float* __restrict mean, const float* __restrict a,
                             const float* __restrict k, const float* __restrict d) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * C;
    const float* __restrict gr = g + r * C;
    float* __restrict dr = dx + r * C;
    for (int64_t c = 0; c < C; ++c) dr[c] = gr[c] * a[c] + (xr[c] - mean[c]) * k[c] + d[c];
  }
}

float at(const Tensor& t, int64_t i, float otherwise) { return t.defined() ? t.data<float>()[i] : otherwise; }

}  // namespace

void group_norm_forward(const Tensor& x, int64_t groups, const Tensor& w, const Tensor& b, double eps, Tensor& y,
                        Tensor& mean, Tensor& rstd, Tensor& var) {
  const Units us(x, groups);
  const int64_t N = us.N, C = us.C, G = us.G, Cg = C / G;
  const float* px = x.data<float>();
  std::vector<float> shift(N * C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) shift[n * C + c] = px[us.index(n, c / Cg * Cg, 0)];
  std::vector<double> s1(N * C, 0.0), s2(N * C, 0.0);
  us.for_units([&](const Unit& u) {
    const int64_t o = u.n * C + u.c0;
    sum_shifted(px + u.offset, 0, u.rows, u.width, shift.data() + o, s1.data() + o, s2.data() + o);
  });
  const double count = static_cast<double>(Cg * us.S);
  std::vector<float> alpha(N * C), beta(N * C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      double t1 = 0, t2 = 0;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) t1 += s1[n * C + c], t2 += s2[n * C + c];
      const double d = t1 / count;
      const float m = static_cast<float>(shift[n * C + g * Cg] + d);
      const double v = std::max(0.0, t2 / count - d * d);
      const float r = static_cast<float>(1.0 / std::sqrt(v + eps));
      mean.data<float>()[n * G + g] = m;
      rstd.data<float>()[n * G + g] = r;
      if (var.defined()) var.data<float>()[n * G + g] = static_cast<float>(v);
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) {
        alpha[n * C + c] = r * at(w, c, 1.f);
        beta[n * C + c] = at(b, c, 0.f) - m * alpha[n * C + c];
      }
    }
  us.for_units([&](const Unit& u) {
    const int64_t o = u.n * C + u.c0;
    affine_rows(px + u.offset, nullptr, y.data<float>() + u.offset, 0, u.rows, u.width, alpha.data() + o,
                beta.data() + o, false);
  });
}

void group_norm_backward(const Tensor& x, const Tensor& g, int64_t groups, const Tensor& w, const Tensor& mean,
                         const Tensor& rstd, Tensor& dx, Tensor& dw, Tensor& db) {
  const Units us(x, groups);
  const int64_t N = us.N, C = us.C, G = us.G, Cg = C / G;
  const float *px = x.data<float>(), *pg = g.data<float>();
  const std::vector<float> mean_c = us.per_channel(mean.data<float>());
  std::vector<double> sum_dy(N * C, 0.0), sum_dy_xmu(N * C, 0.0);
  us.for_units([&](const Unit& u) {
    const int64_t o = u.n * C + u.c0;
    sum_grad(px + u.offset, pg + u.offset, nullptr, nullptr, nullptr, 0, u.rows, u.width, mean_c.data() + o,
             sum_dy.data() + o, sum_dy_xmu.data() + o);
  });
  const float* pr = rstd.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    double tw = 0, tb = 0;
    for (int64_t n = 0; n < N; ++n) tw += sum_dy_xmu[n * C + c] * pr[n * G + c / Cg], tb += sum_dy[n * C + c];
    if (dw.defined()) dw.data<float>()[c] = static_cast<float>(tw);
    if (db.defined()) db.data<float>()[c] = static_cast<float>(tb);
  }
  if (!dx.defined()) return;
  const double M = static_cast<double>(Cg * us.S);
  std::vector<float> a(N * C), k(N * C), d(N * C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t gr = 0; gr < G; ++gr) {
      double A = 0, B = 0;
      for (int64_t c = gr * Cg; c < (gr + 1) * Cg; ++c) {
        A += at(w, c, 1.f) * sum_dy[n * C + c];
        B += at(w, c, 1.f) * sum_dy_xmu[n * C + c];
      }
      const double r = pr[n * G + gr];
      for (int64_t c = gr * Cg; c < (gr + 1) * Cg; ++c) {
        a[n * C + c] = static_cast<float>(r * at(w, c, 1.f));
        k[n * C + c] = static_cast<float>(-r * r * r * B / M);
        d[n * C + c] = static_cast<float>(-r * A / M);
      }
    }
  us.for_units([&](const Unit& u) {
    const int64_t o = u.n * C + u.c0;
    grad_input(px + u.offset, pg + u.offset, dx.data<float>() + u.offset, u.rows, u.width, mean_c.data() + o,
               a.data() + o, k.data() + o, d.data() + o);
  });
}

}  // namespace nf::cpu
