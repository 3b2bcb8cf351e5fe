// topk_correct_count in one block of 512 threads: warp w takes rows w, w+16, ...; its
// lanes count the target's rank over the row (logits greater than the target's, or equal
// at a lower index), the warp adds them, lane 0 keeps the number of correct rows, and a
// block reduction writes the total (integer sums: exact in any order). kk = min(k, K).
#include <algorithm>

#include "framework/backends/cuda/block_reduce.cuh"
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/metrics.h"

namespace nf::cuda {

namespace {

constexpr int kThreads = 512;

__global__ void topk_kernel(const float* __restrict__ logits, const int64_t* __restrict__ targets, int64_t N,
                            int64_t K, int64_t kk, int64_t* __restrict__ out) {
  const int lane = threadIdx.x & 31;
  long long correct = 0;
  for (int64_t n = threadIdx.x / 32; n < N; n += kThreads / 32) {
    const int64_t t = targets[n];
    if (t < 0 || t >= K) continue;  // the same for the whole warp
    const float* row = logits + n * K;
    const float mine = row[t];
    long long rank = 0;
    for (int64_t j = lane; j < K; j += 32) rank += row[j] > mine || (row[j] == mine && j < t);
    rank = warp_sum(rank);
    if (lane == 0) correct += rank < kk;
  }
  correct = block_sum(correct);
  if (threadIdx.x == 0) *out = correct;
}

}  // namespace

void topk_correct_count(const float* logits, const int64_t* targets, int64_t N, int64_t K, int64_t k, int64_t* out) {
  topk_kernel<<<1, kThreads, 0, stream()>>>(logits, targets, N, K, std::min(k, K), out);
  check_launch("topk_correct_count kernel");
}

}  // namespace nf::cuda
