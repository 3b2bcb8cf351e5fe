// dropout's CPU loop (see dropout.h).
#include "framework/backends/cpu/dropout.h"

#include <cmath>

#include "framework/backends/cpu/vectorize.h"
#include "framework/core/counter_random.h"

namespace nf::cpu {

namespace {

// u_i >= p as integers: u_i = k * 2^-53 with k = splitmix64 >> 11, and p * 2^53 is exact,
// so u_i >= p iff k >= ceil(p * 2^53). No conversion to double: the loop vectorizes.
NF_VECTORIZE void apply(const float* __restrict in, float* __restrict out, int64_t n, uint64_t seed,
                        uint64_t threshold, float scale) {
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i)
    out[i] = in[i] * ((splitmix64(seed, static_cast<uint64_t>(i)) >> 11) >= threshold ? scale : 0.f);
}

}  // namespace

void dropout_apply(const float* in, float* out, int64_t n, uint64_t seed, double p, float scale) {
  apply(in, out, n, seed, static_cast<uint64_t>(std::ceil(p * 0x1p53)), scale);
}

}  // namespace nf::cpu
