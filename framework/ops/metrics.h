// Accuracy counting (no autograd).
//   topk_correct_count(logits [N,K] F32, targets [N] I64, k >= 1) -> a 0-d I64 tensor on
//   the logits' device holding the number of rows whose target is among the k largest
//   logits; k > K counts as K. Ties are broken as a stable descending sort would (the lower
//   class index ranks first): the target's rank is #{logits greater than its own} +
//   #{equal logits at a lower index}, correct iff rank < k. A comparison with a NaN counts
//   as "not greater, not equal" (so a NaN target logit has rank 0). A target outside
//   [0, K) throws nf::Error on CPU; on CUDA it counts as not correct (checking it would
//   mean a host read). Nothing is read back to the host, so a trainer can add counts on
//   the device without a synchronization per step.
//   topk_correct(...) = topk_correct_count(...).item(): the same rule, read back.
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor topk_correct_count(const Tensor& logits, const Tensor& targets, int64_t k);
int64_t topk_correct(const Tensor& logits, const Tensor& targets, int64_t k);

}  // namespace nf::ops
