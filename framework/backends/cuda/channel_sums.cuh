// Deterministic per-channel sums in double over a dense [N, C, S] F32 tensor (S = H*W,
// L or 1), row-major (NCHW) or channels-last, for BatchNorm's statistics and backward
// and for sum_except_dim1. Include from .cu files only.
// - channel_partials(L, terms, device): the M = N*S rows are cut into P chunks (P from
//   the shape alone); one block per (channel tile, chunk) accumulates terms(offset, c,
//   a, b) over its rows in double, reduced in a fixed order within the block, into
//   partials [P, C] of (a, b). Channels-last blocks are 32 channels x 8 row lanes (a warp
//   reads 32 consecutive channels of a row); NCHW blocks are one channel x 256 rows.
// - channel_total(part, P, C, c) inside a kernel launched with one warp per channel
//   (warp_channel(), kChannelWarpsThreads per block): lane l adds p = l, l + 32, ... in
//   order, then a fixed butterfly combines the lanes. Same inputs, same bits, every run.
// - check_channel_layout: that a tensor shares x's shape and memory layout (one index).
#pragma once
#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include "framework/backends/cuda/block_reduce.cuh"
#include "framework/backends/cuda/context.h"
#include "framework/core/error.h"
#include "framework/core/tensor.h"

namespace nf::cuda {

// [N, C, S] dense, rows m = n * S + s; channels_last: element (m, c) at m * C + c,
// else at (n * C + c) * S + s. With S == 1 both orders are the same rows.
struct ChannelLayout {
  int64_t M, C, S;
  bool channels_last;
  ChannelLayout(int64_t N, int64_t C_, int64_t S_, bool cl) : M(N * S_), C(C_), S(S_), channels_last(cl || S_ == 1) {}
  __device__ int64_t offset(int64_t m, int64_t c) const {
    return channels_last ? m * C + c : ((m / S) * C + c) * S + m % S;
  }
  __device__ int64_t channel(int64_t i) const { return channels_last ? i % C : (i / S) % C; }
};

// t (when defined) must have x's shape and memory layout, so that they share one index;
// else nf::Error("<op>: <name> ... does not have the layout of the input ...").
inline void check_channel_layout(const char* op, const Tensor& x, const Tensor& t, const char* name) {
  if (!t.defined()) return;
  NF_CHECK(t.shape() == x.shape() && t.is_contiguous(x.memory_format()),
           std::string(op) + ": " + name + " " + t.str() + " does not have the layout of the input " + x.str());
}

constexpr int kChannelSumThreads = 256;   // NCHW partial blocks (a power of two)
constexpr int kChannelWarpsThreads = 256;  // threads per block of a one-warp-per-channel kernel

// Channels-last: grid (ceil(C / 32), P), block (32, 8).
template <class Terms>
__global__ void channel_partials_cl_kernel(ChannelLayout L, int64_t chunk, Terms t, double2* part) {
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  const int64_t r0 = blockIdx.y * chunk, r1 = min(L.M, r0 + chunk);
  double a = 0, b = 0;
  if (c < L.C)
    for (int64_t m = r0 + threadIdx.y; m < r1; m += 8) t(m * L.C + c, c, a, b);
  __shared__ double sa[8][32], sb[8][32];
  sa[threadIdx.y][threadIdx.x] = a;
  sb[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && c < L.C) {
    for (int k = 1; k < 8; ++k) a += sa[k][threadIdx.x], b += sb[k][threadIdx.x];
    part[blockIdx.y * L.C + c] = make_double2(a, b);
  }
}

// NCHW: grid (C, P), block kChannelSumThreads.
template <class Terms>
__global__ void channel_partials_nchw_kernel(ChannelLayout L, int64_t chunk, Terms t, double2* part) {
  const int64_t c = blockIdx.x;
  const int64_t r0 = blockIdx.y * chunk, r1 = min(L.M, r0 + chunk);
  double a = 0, b = 0;
  for (int64_t m = r0 + threadIdx.x; m < r1; m += kChannelSumThreads)
    t(((m / L.S) * L.C + c) * L.S + m % L.S, c, a, b);
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) part[blockIdx.y * L.C + c] = make_double2(a, b);
}

// The partials [P, C] of (a, b); `storage` keeps them alive (an I64 tensor as storage for
// doubles: DType has no F64) until the kernels reading them are queued.
struct ChannelPartials {
  Tensor storage;
  int64_t P;
  const double2* data() const { return static_cast<const double2*>(storage.raw_data()); }
};

template <class Terms>
ChannelPartials channel_partials(const ChannelLayout& L, const Terms& terms, Device device) {
  NF_CHECK(L.C <= INT_MAX / 2, "per-channel sum (CUDA): too many channels: " + std::to_string(L.C));
  const int64_t tiles = L.channels_last ? (L.C + 31) / 32 : L.C;
  const int64_t P0 = std::clamp<int64_t>((L.M + 255) / 256, 1, std::clamp<int64_t>(1024 / tiles, 1, 512));
  const int64_t chunk = std::max<int64_t>(1, (L.M + P0 - 1) / P0);  // M == 0: one empty chunk
  const int64_t P = std::max<int64_t>(1, (L.M + chunk - 1) / chunk);
  Tensor part = Tensor::empty({2 * P * L.C}, DType::I64, device);
  auto* pp = static_cast<double2*>(part.raw_data());
  if (L.channels_last) {
    channel_partials_cl_kernel<<<dim3(unsigned(tiles), unsigned(P)), dim3(32, 8), 0, stream()>>>(L, chunk, terms, pp);
    check_launch("channel_partials_cl_kernel");
  } else {
    channel_partials_nchw_kernel<<<dim3(unsigned(L.C), unsigned(P)), kChannelSumThreads, 0, stream()>>>(L, chunk,
                                                                                                         terms, pp);
    check_launch("channel_partials_nchw_kernel");
  }
  return {part, P};
}

// Blocks for a one-warp-per-channel kernel over C channels.
inline unsigned channel_warp_blocks(int64_t C) { return blocks_for(C * 32, kChannelWarpsThreads); }

__device__ inline int64_t warp_channel() { return (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) >> 5; }

// The same value in every lane of the channel's warp.
__device__ inline double2 channel_total(const double2* part, int64_t P, int64_t C, int64_t c) {
  double a = 0, b = 0;
  for (int64_t p = threadIdx.x & 31; p < P; p += 32) a += part[p * C + c].x, b += part[p * C + c].y;
  return make_double2(warp_sum(a), warp_sum(b));
}

}  // namespace nf::cuda
