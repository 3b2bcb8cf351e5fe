// Launcher for ops/dropout.cpp on the GPU: out[i] = in[i] * (u_i >= p ? scale : 0) over
// n dense F32 elements (device pointers), with u_i uniform in [0, 1) from a counter-based
// hash of (seed, i), so the mask depends only on seed, p and i (not on the launch
// shape): the forward (in = x) and the backward (in = g) regenerate the same mask.
// Runs on the current device's stream (the caller holds a cuda::Scope).
#pragma once
#include <cstdint>

namespace nf::cuda {

void dropout_apply(const float* in, float* out, int64_t n, uint64_t seed, double p, float scale);

}  // namespace nf::cuda
