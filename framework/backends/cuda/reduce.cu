// sum_except_dim1 on the GPU: [N, C, R] row-major F32 -> [C] F32 through the shared
// per-channel sums (channel_sums.cuh: double partials per row chunk, then one warp per
// channel adds them in a fixed order), so the result is bitwise the same on every run.
#include "framework/backends/cuda/channel_sums.cuh"
#include "framework/backends/cuda/reduce.h"

namespace nf::cuda {

namespace {

struct SumTerms {
  const float* g;
  __device__ void operator()(int64_t o, int64_t, double& a, double&) const { a += g[o]; }
};

__global__ void sum_finish_kernel(const double2* part, int64_t P, int64_t C, float* out) {
  const int64_t c = warp_channel();
  if (c >= C) return;  // whole warps leave together
  const double2 s = channel_total(part, P, C, c);
  if ((threadIdx.x & 31) == 0) out[c] = static_cast<float>(s.x);
}

}  // namespace

void sum_except_dim1(const float* g, int64_t N, int64_t C, int64_t R, float* out, Device device) {
  if (C == 0) return;
  const ChannelLayout L(N, C, R, false);
  const ChannelPartials part = channel_partials(L, SumTerms{g}, device);
  sum_finish_kernel<<<channel_warp_blocks(C), kChannelWarpsThreads, 0, stream()>>>(part.data(), part.P, C, out);
  check_launch("sum_finish_kernel");
}

}  // namespace nf::cuda
