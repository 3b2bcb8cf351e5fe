// Launcher for the per-channel sum behind ops/reduce.cpp's sum_except_dim1.
//   g: device pointer to a row-major [N, C, R] F32 tensor (R = the product of the dims
//   after dim 1); out: device pointer to [C] F32, out[c] = sum over n, r of g[n, c, r].
// Deterministic: fixed per-block partials in double, then a fixed-order second pass.
// Runs on the current device's stream (the caller holds a cuda::Scope for `device`).
#pragma once
#include <cstdint>

#include "framework/core/dtype.h"

namespace nf::cuda {

void sum_except_dim1(const float* g, int64_t N, int64_t C, int64_t R, float* out, Device device);

}  // namespace nf::cuda
