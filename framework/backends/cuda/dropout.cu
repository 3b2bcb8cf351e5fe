// The dropout mask as a counter-based random number per element, u_i = counter_uniform(seed, i)
// (framework/core/counter_random.h, the CPU loop's function). Element i is kept iff
// u_i >= p, and then becomes in[i] * scale; otherwise in[i] * 0.
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/dropout.h"
#include "framework/core/counter_random.h"

namespace nf::cuda {

namespace {

__global__ void dropout_kernel(const float* __restrict__ in, float* __restrict__ out, int64_t n, uint64_t seed,
                               double p, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const double u = counter_uniform(seed, uint64_t(i));
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
