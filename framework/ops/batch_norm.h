// Batch Normalization, exactly as PyTorch's F.batch_norm.
// Shapes: x is [N, C], [N, C, L] or [N, C, H, W] (F32, any memory format); weight, bias,
// running_mean, running_var are [C] F32; num_batches_tracked is I64 of shape [].
// Output layout: on the CPU blocked (nChw16c) for a blocked x, else channels-last, the
// layouts its kernels work in; on CUDA x's
// own memory format (NCHW or channels-last; a non-dense x is made row-major first); the
// residual and the incoming gradient are converted to that format.
// Statistics are per channel over the n = N*L (or N*H*W) values of that channel.
//
// use_batch_stats = true (training, or no running statistics tracked):
//   y = (x - mean) / sqrt(var + eps) * weight + bias, mean and biased var of the batch;
//   if the state tensors are defined they are updated in place, with no autograd:
//     num_batches_tracked += 1
//     factor = momentum ? *momentum : 1 / num_batches_tracked   (cumulative average)
//     running_mean = (1 - factor) * running_mean + factor * mean
//     running_var  = (1 - factor) * running_var  + factor * var * n / (n - 1)
//   n == 1 is an error (PyTorch's "Expected more than 1 value per channel ...").
// use_batch_stats = false (evaluation): normalize with the running statistics and
//   change nothing; each image's output depends on that image only. Still
//   differentiable w.r.t. x, weight and bias (fine-tuning with frozen statistics).
// weight/bias undefined means affine=false (scale 1, shift 0).
//
// Fusion (ResNet's bn -> relu and bn -> add -> relu) in the same pass over memory:
//   out = relu?(y + residual?), residual of x's shape; its gradient and the ReLU mask are
//   handled in the same backward pass. The values are those of the separate ops.
#pragma once
#include <optional>

#include "framework/core/tensor.h"

namespace nf::ops {

// The running statistics; all undefined when track_running_stats=false.
struct BatchNormState {
  Tensor running_mean, running_var;  // [C] F32
  Tensor num_batches_tracked;        // I64, shape []
};

struct BatchNormFusion {
  Tensor residual;    // undefined: no add
  bool relu = false;
};

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, BatchNormState& state,
                  bool use_batch_stats, std::optional<double> momentum, double eps,
                  const BatchNormFusion& fuse = {});

// Folds an eval-mode BN into the convolution before it (inference, no autograd):
//   s[o] = gamma[o] / sqrt(running_var[o] + eps)   (in double)
//   w'[o, ...] = w[o, ...] * s[o],   b'[o] = (b[o] - running_mean[o]) * s[o] + beta[o]
// each rounded to float once. w: [O, ...] (made contiguous), b: [O] or undefined (0),
// gamma/beta: [O] or undefined (1, 0). The results are on w's device, w' contiguous.
struct FoldedConv {
  Tensor weight, bias;
};
FoldedConv fold_batch_norm(const Tensor& w, const Tensor& b, const BatchNormState& state, const Tensor& gamma,
                           const Tensor& beta, double eps);

}  // namespace nf::ops
