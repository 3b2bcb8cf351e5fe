// dropout on the CPU (for framework/ops/dropout.cpp): oneDNN 2.6 has no dropout (nor a
// random-number primitive), so one loop, the CUDA kernel's math:
//   out[i] = in[i] * (u_i >= p ? scale : 0),  u_i = counter_uniform(seed, i)
// over n dense F32 elements in memory order (framework/core/counter_random.h). The mask
// depends only on seed, p and i, so elements are drawn in parallel and the backward
// (in = g) regenerates the forward's mask instead of storing it.
#pragma once
#include <cstdint>

namespace nf::cpu {

void dropout_apply(const float* in, float* out, int64_t n, uint64_t seed, double p, float scale);

}  // namespace nf::cpu
