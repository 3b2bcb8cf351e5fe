// conv_bn: a Conv2d, optionally followed by a BatchNorm, with the epilogue of a ResNet block:
//   y = relu?(bn?(conv(x)) + residual?)          x [N, C, H, W], residual of y's shape
// bn may be null: a convolution whose BatchNorm was folded away (model.folded), or one
// followed by a bare ReLU.
// - Training, or anything that needs a gradient: conv, then BatchNorm::forward_fused
//   (BN, add and ReLU in one pass, forward and backward), or without BN the add and
//   ReLU as ops.
// - Evaluation without autograd (BN in eval mode with running statistics): the BN is
//   folded into the convolution (ops::fold_batch_norm, on the model's device), as inference engines do,
//     w' = w * s,  b' = (b - running_mean) * s + beta,  s = gamma / sqrt(running_var + eps)
//   (in double, then rounded; redone each call, as the weights may have changed since:
//   O(weights), small next to the convolution), and the add and ReLU run as the primitive's post-ops
//   (ops::conv2d_inference): one pass over memory instead of three. The result equals
//   the unfolded one up to float rounding (~1e-6 relative).
// Both paths run the modules' forward hooks, so summaries still see them.
#pragma once
#include "layers/batch_norm.h"
#include "layers/conv2d.h"

namespace nf {

Tensor conv_bn(Conv2d& conv, BatchNorm* bn, const Tensor& x, const Tensor& residual, bool relu);

// A new Conv2d with bias computing bn(conv(x)) in evaluation (the fold above, applied
// once to the weights: BatchNorm folding, layers/fusion.h). bn needs running statistics.
std::shared_ptr<Conv2d> folded_conv(Conv2d& conv, BatchNorm& bn);

}  // namespace nf
