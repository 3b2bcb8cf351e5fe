// The row kernels of channel_rows.h (layout and contracts there).
#include "framework/backends/cpu/channel_rows.h"

#include "framework/backends/cpu/vectorize.h"

namespace nf::cpu {

NF_VECTORIZE void sum_shifted(const float* __restrict x, int64_t r0, int64_t r1, int64_t C,
                              const float* __restrict k, double* __restrict s1, double* __restrict s2) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double d = static_cast<double>(xr[c]) - k[c];
      s1[c] += d;
      s2[c] += d * d;
    }
  }
}

NF_VECTORIZE void affine_rows(const float* __restrict x, const float* __restrict res, float* __restrict y,
                              int64_t r0, int64_t r1, int64_t C, const float* __restrict alpha,
                              const float* __restrict beta, bool relu) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    if (res) {
      const float* __restrict rr = res + r * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * alpha[c] + beta[c] + rr[c];
    } else {
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * alpha[c] + beta[c];
    }
    if (relu)
      for (int64_t c = 0; c < C; ++c) yr[c] = yr[c] > 0.f ? yr[c] : 0.f;
  }
}

NF_VECTORIZE void sum_grad(const float* __restrict x, const float* __restrict g, const float* __restrict y,
                           float* __restrict gres, float* __restrict row, int64_t r0, int64_t r1, int64_t C,
                           const float* __restrict mean, double* __restrict sum_dy, double* __restrict sum_dy_xmu) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * C;
    const float* __restrict gv = g + o;
    if (y) {
      float* out = gres ? gres + o : row;
      mask_row(g + o, y + o, out, C);
      gv = out;
    }
    const float* __restrict xr = x + o;
    for (int64_t c = 0; c < C; ++c) {
      sum_dy[c] += gv[c];
      sum_dy_xmu[c] += static_cast<double>(gv[c]) * (xr[c] - mean[c]);
    }
  }
}

}  // namespace nf::cpu
