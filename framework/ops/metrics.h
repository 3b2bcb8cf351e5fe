// Accuracy counting (no autograd).
//   topk_correct(logits [N,K] F32, targets [N] I64 in [0, K), k >= 1) -> the number of rows
//   whose target is among the k largest logits; k > K counts as K. Ties are broken as a
//   stable descending sort would (the lower class index ranks first): the target's rank is
//   #{logits greater than its own} + #{equal logits at a lower index}, correct iff rank < k.
//   A comparison with a NaN counts as "not greater, not equal".
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

int64_t topk_correct(const Tensor& logits, const Tensor& targets, int64_t k);

}  // namespace nf::ops
