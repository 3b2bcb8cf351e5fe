// Classification loss.
//   cross_entropy(logits [N,K] F32, targets [N] I64 in [0, K), label_smoothing in [0, 1])
//     -> 0-d F32, the mean over the batch of
//        (1 - ls) * -log p[n, t_n] + ls * mean_k(-log p[n, k]),   p = softmax(logits[n])
//     (PyTorch's F.cross_entropy, reduction='mean'; no ignore_index, no class weights).
//   Differentiable w.r.t. logits: d/dlogits[n,k] = (p[n,k] - (1-ls)*[k == t_n] - ls/K) / N.
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing = 0.0);

}  // namespace nf::ops
