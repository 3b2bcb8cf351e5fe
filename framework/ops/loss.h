// Classification loss.
//   cross_entropy(logits [N,K] F32, targets [N] I64 in [0, K), label_smoothing in [0, 1])
//     -> 0-d F32, the mean over the batch of
//        (1 - ls) * -log p[n, t_n] + ls * mean_k(-log p[n, k]),   p = softmax(logits[n])
//     (PyTorch's F.cross_entropy, reduction='mean'; no ignore_index, no class weights).
//   Differentiable w.r.t. logits: d/dlogits[n,k] = (p[n,k] - (1-ls)*[k == t_n] - ls/K) / N.
//   A target outside [0, K) throws nf::Error on CPU; on CUDA (where checking would mean a
//   host read of the targets) it makes that row's loss NaN, so the returned loss is NaN
//   (the trainer stops on a non-finite loss). Everything else runs on the device: the loss
//   stays there until read, and the backward reads its incoming gradient there too.
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing = 0.0);

}  // namespace nf::ops
