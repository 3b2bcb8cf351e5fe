// Device helpers for deterministic reductions inside one warp or one block, shared by
// the reduce, loss and metrics kernels. The combining order is fixed (an xor-shuffle
// butterfly within a warp, then warp 0 over the per-warp results in warp order), so the
// same inputs give bitwise the same sum on every run. T: float, double, int or long long.
#pragma once
#include <cuda_runtime.h>

namespace nf::cuda {

template <class T>
__device__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;  // the same in every lane
}

template <class T>
__device__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block; blockDim.x must be a multiple of 32 (at most 1024) and every thread
// of the block must call it. The result is valid in thread 0.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : T(0);
  if (warp == 0) v = warp_sum(v);
  __syncthreads();  // part[] may be reused by a later call
  return v;
}

}  // namespace nf::cuda
