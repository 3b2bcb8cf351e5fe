// Row kernels over tensors seen as rows with the channel innermost, shared by the CPU
// BatchNorm and GroupNorm kernels (batch_norm.cpp, group_norm.cpp): rows [r0, r1) of C
// channels, row r at x + r * C; the per-channel arrays (shift, mean, coefficients, sums)
// are indexed by the channel 0..C-1 of the row. Each caller points them at the channels
// a segment holds (a channels-last tensor is rows of all C channels, a blocked nChw16c
// one rows of 16). Sums are accumulated in double into the caller's arrays.
// The kernels take restrict pointers and keep branches out of the inner loops, so that
// each inner loop over the channels of a row vectorizes (NF_VECTORIZE clones).
#pragma once
#include <cstdint>

namespace nf::cpu {

// s1[c] += x - k[c], s2[c] += (x - k[c])^2 over rows [r0, r1).
void sum_shifted(const float* __restrict x, int64_t r0, int64_t r1, int64_t C, const float* __restrict k,
                 double* __restrict s1, double* __restrict s2);

// y = relu?(x * alpha[c] + beta[c] + res?) over rows [r0, r1); res may be null.
void affine_rows(const float* __restrict x, const float* __restrict res, float* __restrict y, int64_t r0, int64_t r1,
                 int64_t C, const float* __restrict alpha, const float* __restrict beta, bool relu);

// out[c] = g where the fused ReLU's output y > 0, else 0 (one row).
inline void mask_row(const float* __restrict g, const float* __restrict y, float* __restrict out, int64_t C) {
  for (int64_t c = 0; c < C; ++c) out[c] = y[c] > 0.f ? g[c] : 0.f;
}

// sum_dy[c] += g', sum_dy_xmu[c] += g' * (x - mean[c]) over rows [r0, r1), where g' is
// the gradient reaching the normalization's output: g, masked by the fused ReLU's
// output y when y is given (else y, gres and row may be null). g' is also written to
// gres when given (the residual's gradient), else, when masked, to `row` (C floats of
// scratch).
void sum_grad(const float* __restrict x, const float* __restrict g, const float* __restrict y,
              float* __restrict gres, float* __restrict row, int64_t r0, int64_t r1, int64_t C,
              const float* __restrict mean, double* __restrict sum_dy, double* __restrict sum_dy_xmu);

}  // namespace nf::cpu
