// sum_except_dim1 on the GPU: [N, C, R] row-major F32 -> [C] F32, in two passes.
//   1. grid (C, P): block (c, p) sums the elements m = p*256 + t, p*256 + t + P*256, ...
//      of channel c (m indexes the N*R elements of the channel, m = n*R + r) in double,
//      reduces its block in a fixed order and writes partials[c*P + p].
//   2. one thread per channel adds its P partials in order p = 0..P-1 and rounds to float.
// P depends only on the shape, so the result is bitwise the same on every run.
// The partials live in an I64 tensor used as 8-byte storage for doubles (no F64 dtype).
#include <algorithm>

#include "framework/backends/cuda/block_reduce.cuh"
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/reduce_kernels.h"
#include "framework/core/tensor.h"

namespace nf::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxParts = 64;        // blocks per channel at most
constexpr int64_t kPerThread = 16;       // elements per thread before another block is added

__global__ void channel_partials_kernel(const float* __restrict__ g, int64_t C, int64_t R, int64_t M,
                                        double* __restrict__ partials) {
  const int64_t c = blockIdx.x, P = gridDim.y, p = blockIdx.y;
  double acc = 0.0;
  for (int64_t m = p * kThreads + threadIdx.x; m < M; m += P * kThreads) {
    const int64_t n = m / R, r = m - n * R;
    acc += g[(n * C + c) * R + r];
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partials[c * P + p] = acc;
}

__global__ void channel_finish_kernel(const double* __restrict__ partials, int64_t C, int64_t P,
                                      float* __restrict__ out) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double s = 0.0;
    for (int64_t p = 0; p < P; ++p) s += partials[c * P + p];
    out[c] = static_cast<float>(s);
  }
}

}  // namespace

void sum_except_dim1(const float* g, int64_t N, int64_t C, int64_t R, float* out, Device device) {
  if (C == 0) return;
  NF_CHECK(C <= 0x7fffffff, "sum_except_dim1: too many channels for the CUDA kernel: " + std::to_string(C));
  const int64_t M = N * R;
  const int64_t P = std::clamp<int64_t>((M + kThreads * kPerThread - 1) / (kThreads * kPerThread), 1, kMaxParts);
  Tensor partials = Tensor::empty({C * P}, DType::I64, device);
  double* part = reinterpret_cast<double*>(partials.data<int64_t>());
  channel_partials_kernel<<<dim3(unsigned(C), unsigned(P)), kThreads, 0, stream()>>>(g, C, R, M, part);
  check_launch("sum_except_dim1 partials kernel");
  channel_finish_kernel<<<blocks_for(C, kThreads), kThreads, 0, stream()>>>(part, C, P, out);
  check_launch("sum_except_dim1 finish kernel");
}

}  // namespace nf::cuda
