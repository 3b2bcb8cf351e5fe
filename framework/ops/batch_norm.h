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
// Ghost batch normalization (virtual_batch = V, Keras's virtual_batch_size; V >= 2):
//   with batch statistics, the samples are split along N into consecutive groups of V
//   (the last one smaller when V does not divide N; a last group of one sample is merged
//   into the one before) and each group is normalized as above with its own mean and
//   biased var (its n_g = values per channel in the group); the gradients are those of
//   this composition. The running statistics are updated once per step:
//     num_batches_tracked += 1, factor as above,
//     running_mean = (1 - factor) * running_mean + factor * mean_g(mean of group g)
//     running_var  = (1 - factor) * running_var  + factor * mean_g(var_g * n_g / (n_g - 1))
//   (as G blends of the groups' double statistics, each rounded to float; momentum must
//   be in [0, 1]). V >= N is plain batch_norm, bit for bit; evaluation ignores V.
//
// Fusion (ResNet's bn -> relu and bn -> add -> relu) in the same pass over memory:
//   out = relu?(y + residual?), residual of x's shape; its gradient and the ReLU mask are
//   handled in the same backward pass. The values are those of the separate ops.
#pragma once
#include <cstdint>
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
                  const BatchNormFusion& fuse = {}, std::optional<int64_t> virtual_batch = std::nullopt);

// The error batch_norm raises for a virtual_batch below 2 (for layers to check early).
void check_virtual_batch(std::optional<int64_t> virtual_batch);

// Shared with sync_batch_norm: batch_norm's checks of its inputs (residual undefined:
// none), and num_batches_tracked += 1 on its device returning the step's blend factor,
// momentum or 1 / num_batches_tracked (the cumulative average).
void check_batch_norm_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias, const BatchNormState& s,
                             bool use_batch_stats, const Tensor& residual);
double advance_batch_count(Tensor& num_batches_tracked, std::optional<double> momentum);

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
