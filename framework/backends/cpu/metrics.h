// topk_correct_count on the CPU (for framework/ops/metrics.cpp), a plain loop; named as
// the CUDA launcher (backends/cuda/metrics.h). logits [N, K] F32 row-major and
// targets [N] I64 are contiguous CPU memory; *out receives the number of rows whose
// target ranks < min(k, K) by the rule of ops/metrics.h (ties go to the lower index).
// A target outside [0, K) throws nf::Error.
#pragma once
#include <cstdint>

namespace nf::cpu {

void topk_correct_count(const float* logits, const int64_t* targets, int64_t N, int64_t K, int64_t k, int64_t* out);

}  // namespace nf::cpu
