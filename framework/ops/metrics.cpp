// topk_correct: reads logits and targets back to the host (a few KB per batch) and
// counts there, so it works for tensors on any device without a per-device branch.
#include "framework/ops/metrics.h"

#include <algorithm>

#include "framework/ops/dispatch.h"

namespace nf::ops {

int64_t topk_correct(const Tensor& logits, const Tensor& targets, int64_t k) {
  check_dtype("topk_correct", logits, DType::F32);
  check_dtype("topk_correct", targets, DType::I64);
  NF_CHECK(logits.dim() == 2 && targets.dim() == 1 && logits.size(0) == targets.size(0),
           "topk_correct: need logits [N, K] and targets [N], got logits " + shape_str(logits.shape()) +
               " and targets " + shape_str(targets.shape()));
  NF_CHECK(k >= 1, "topk_correct: k must be >= 1, got " + std::to_string(k));
  const int64_t N = logits.size(0), K = logits.size(1);
  const std::vector<float> v = logits.to_vector();
  const std::vector<int64_t> t = targets.to_int_vector();
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    NF_CHECK(t[n] >= 0 && t[n] < K, "topk_correct: target " + std::to_string(t[n]) + " at index " +
                                         std::to_string(n) + " is out of range [0, " + std::to_string(K) + ")");
    const float* row = v.data() + n * K;
    const float mine = row[t[n]];
    int64_t rank = 0;
    for (int64_t j = 0; j < K; ++j) rank += row[j] > mine || (row[j] == mine && j < t[n]);
    correct += rank < std::min(k, K);
  }
  return correct;
}

}  // namespace nf::ops
