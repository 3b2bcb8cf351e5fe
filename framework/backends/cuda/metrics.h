// Launcher for ops/metrics.cpp's topk_correct_count on the GPU. logits [N, K] F32
// row-major, targets [N] I64 and out (0-d I64) are device pointers; out receives the
// number of rows whose target ranks < min(k, K) by the rule of metrics.h. A target
// outside [0, K) counts as not correct. Runs on the current device's stream (the caller
// holds a cuda::Scope); nothing is read back to the host.
#pragma once
#include <cstdint>

namespace nf::cuda {

void topk_correct_count(const float* logits, const int64_t* targets, int64_t N, int64_t K, int64_t k, int64_t* out);

}  // namespace nf::cuda
