// Group Normalization and Layer Normalization, as PyTorch's F.group_norm and
// torch.nn.LayerNorm(F) define them; one kernel family (group_norm) serves both.
// Shapes: x is [N, C], [N, C, L] or [N, C, H, W] (F32, any memory format); weight and
// bias are [C] F32, undefined = affine=false (scale 1, shift 0).
// Output layout: as batch_norm's (on the CPU blocked nChw16c for a blocked x, else
// channels-last, the layouts its kernels walk; on CUDA x's own dense format).
//
// group_norm: C % groups == 0; per sample n and group g of C/groups consecutive
//   channels, mean and biased variance over its C/groups * spatial values (sums in
//   double), y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c].
//   Differentiable w.r.t. x, weight and bias (only the gradients asked for are computed).
// layer_norm: x [N, F], normalized over the F features of each sample with elementwise
//   affine weight/bias [F]: torch.nn.LayerNorm(F). It is group_norm with one group
//   (channels = features, spatial size 1), which is exact, so it runs the same kernels.
//   The normalized shape is always x's last dimension, so it is not an argument.
//   A recipe's LayerNorm over [N, C, H, W] (GroupNorm(1, C), per-channel affine) is
//   group_norm(x, 1, weight, bias, eps).
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::ops {

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// group_norm that also hands back the statistics it normalized with: per (sample,
// group), [N, groups] F32 on x's device, the mean and the biased variance (instance_norm
// keeps running statistics of them). Values and gradients are group_norm's.
struct GroupNormStats {
  Tensor mean, var;
};
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                  GroupNormStats* stats);

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace nf::ops
