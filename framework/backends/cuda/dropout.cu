// The dropout mask as a counter-based random number per element: u_i is the (i+1)-th
// output of the SplitMix64 sequence seeded with `seed`, h = mix(seed + (i+1) * golden),
// u_i = (h >> 11) * 2^-53 (53 random bits, uniform in [0, 1), as the CPU path). Element i
// is kept iff u_i >= p, and then becomes in[i] * scale; otherwise in[i] * 0.
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/dropout.h"

namespace nf::cuda {

namespace {

__device__ uint64_t splitmix64(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__global__ void dropout_kernel(const float* __restrict__ in, float* __restrict__ out, int64_t n, uint64_t seed,
                               double p, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const double u = double(splitmix64(seed, uint64_t(i)) >> 11) * 0x1p-53;
    out[i] = in[i] * (u >= p ? scale : 0.f);
  }
}

}  // namespace

void dropout_apply(const float* in, float* out, int64_t n, uint64_t seed, double p, float scale) {
  if (n == 0) return;
  dropout_kernel<<<blocks_for(n), 256, 0, stream()>>>(in, out, n, seed, p, scale);
  check_launch("dropout kernel");
}

}  // namespace nf::cuda
