// Instance Normalization, as PyTorch's F.instance_norm (torch.nn.InstanceNorm1d/2d).
// Shapes: x is [N, C, L] or [N, C, H, W] (F32, any memory format); weight and bias are
// [C] F32, undefined = affine=false (scale 1, shift 0); the state is batch_norm's
// (running_mean, running_var [C] F32, num_batches_tracked I64 []), all undefined =
// track_running_stats=false; num_batches_tracked is never advanced (as in PyTorch,
// where InstanceNorm keeps the buffer but does not count). Output layout: group_norm's.
//
// use_input_stats (training, or no running statistics): each (sample, channel) is
//   normalized over its S = L or H*W values, y = (x - mean) / sqrt(var + eps) * weight[c]
//   + bias[c] with the biased var: group_norm with one group per channel, exactly (the
//   same kernels, forward and backward). S must exceed 1 (PyTorch: "Expected more than
//   1 spatial element"). Defined running statistics are updated in place, no autograd:
//     running_mean = (1 - momentum) * running_mean + momentum * mean_n(mean[n, c])
//     running_var  = (1 - momentum) * running_var  + momentum * mean_n(var[n, c] * S / (S - 1))
//   in double from the float per-instance statistics, rounded once (PyTorch blends each
//   instance's then averages: the same up to float rounding). On CUDA the [N, C]
//   statistics go to the host for this (a few hundred bytes per call).
// otherwise (evaluation with running statistics): batch_norm's inference form,
//   y = (x - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c];
//   differentiable w.r.t. x, weight and bias.
#pragma once
#include "framework/ops/batch_norm.h"

namespace nf::ops {

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const BatchNormState& state,
                     bool use_input_stats, double momentum, double eps);

}  // namespace nf::ops
