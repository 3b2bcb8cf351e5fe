// topk_correct_count's CPU loop (see metrics.h).
#include "framework/backends/cpu/metrics.h"

#include <algorithm>
#include <string>

#include "framework/core/error.h"

namespace nf::cpu {

void topk_correct_count(const float* v, const int64_t* t, int64_t N, int64_t K, int64_t k, int64_t* out) {
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    NF_CHECK(t[n] >= 0 && t[n] < K, "topk_correct: target " + std::to_string(t[n]) + " at index " +
                                         std::to_string(n) + " is out of range [0, " + std::to_string(K) + ")");
    const float* row = v + n * K;
    const float mine = row[t[n]];
    int64_t rank = 0;
    for (int64_t j = 0; j < K; ++j) rank += row[j] > mine || (row[j] == mine && j < t[n]);
    correct += rank < std::min(k, K);
  }
  *out = correct;
}

}  // namespace nf::cpu
