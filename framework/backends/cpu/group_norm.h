// CPU Group Normalization for framework/ops/group_norm.cpp, which owns the semantics
// (framework/ops/group_norm.h); the same entry points and formulas as the CUDA kernels
// (framework/backends/cuda/group_norm.h). oneDNN 2.6 has no group normalization.
// Layout: x [N, C, *] (S = the product of the spatial sizes, 1 for [N, C]) is seen as
// rows with the channel innermost, as the BatchNorm kernels see it: channels-last
// ([N, H, W, C]; [N, C] as is) is, per sample, S rows of C channels; blocked (nChw16c)
// is, per sample, C/16 blocks of S rows of 16 channels. x, y, g and dx are F32 tensors
// of x's shape, all in one of these two formats. weight and bias are contiguous [C] F32
// (undefined: affine=false, scale 1, shift 0); mean and rstd are contiguous [N, G] F32;
// var (biased variances, contiguous [N, G] F32) is optional; other undefined outputs
// are not wanted either.
// Sums are taken in double, per (sample, channel) over the S rows, then per (sample,
// group) over its C/G channels, in a fixed order: deterministic for any thread count.
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::cpu {

// Per (n, g): mean and rstd = 1 / sqrt(var + eps) over its C/G * S values (biased
// variance, sums shifted by the group's first value, as BatchNorm's), stored rounded
// into mean/rstd (and var when defined); y = x * alpha + beta with alpha = rstd * weight[c] and
// beta = bias[c] - mean * alpha (PyTorch's GroupNorm forward).
void group_norm_forward(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                        Tensor& y, Tensor& mean, Tensor& rstd, Tensor& var);

// The backward, PyTorch's GroupNorm formulas with r = rstd[n, g], M = C/G * S:
// per (n, c): db = sum_s g, ds = sum_s g * (x - mean[n, g]);
// per (n, g): A = sum_{c in g} weight[c] * db, B = sum_{c in g} weight[c] * ds;
// dx = g * r * weight[c] + (x - mean) * (-r^3 * B / M) - r * A / M,
// dweight[c] = sum_n ds * r, dbias[c] = sum_n db.
void group_norm_backward(const Tensor& x, const Tensor& g, int64_t groups, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, Tensor& dx, Tensor& dweight, Tensor& dbias);

}  // namespace nf::cpu
