// cross_entropy kernels, the same math in double as the CPU loops of ops/loss.cpp.
//   rows kernel: one warp per row (8 rows per 256-thread block): the row's max, then
//     sum exp(x - max) and sum x in double (fixed xor-shuffle order), lse = max + log(sum),
//     row loss = -(1-ls) * (x[t] - lse) - ls * (sum_x / K - lse), NaN if t is out of range.
//   mean kernel: one block; thread j adds rows j, j+256, ... in order, then a fixed block
//     reduction; loss = float(total / N). Deterministic, and no host read.
//   backward: one thread per element, dx = float((exp(x - lse[n]) - ls/K - (1-ls)[k == t])
//     * g / N) with g read from device memory.
#include <cmath>

#include "framework/backends/cuda/block_reduce.cuh"
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/loss.h"

namespace nf::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / 32;

__global__ void ce_rows_kernel(const float* __restrict__ x, const int64_t* __restrict__ t, int64_t N, int64_t K,
                               double ls, double* __restrict__ lse, double* __restrict__ row_loss) {
  const int64_t n = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (n >= N) return;  // the whole warp leaves together (n is the same in all its lanes)
  const float* row = x + n * K;
  double mx = -INFINITY;
  for (int64_t k = lane; k < K; k += 32) mx = fmax(mx, double(row[k]));
  mx = warp_max(mx);
  double sum = 0.0, row_sum = 0.0;
  for (int64_t k = lane; k < K; k += 32) {
    sum += exp(double(row[k]) - mx);
    row_sum += row[k];
  }
  sum = warp_sum(sum);
  row_sum = warp_sum(row_sum);
  if (lane == 0) {
    const double l = mx + log(sum);
    const int64_t tn = t[n];
    lse[n] = l;
    row_loss[n] = tn >= 0 && tn < K ? -(1.0 - ls) * (double(row[tn]) - l) - ls * (row_sum / double(K) - l) : NAN;
  }
}

__global__ void ce_mean_kernel(const double* __restrict__ row_loss, int64_t N, float* __restrict__ loss) {
  double s = 0.0;
  for (int64_t n = threadIdx.x; n < N; n += kThreads) s += row_loss[n];
  s = block_sum(s);
  if (threadIdx.x == 0) *loss = static_cast<float>(s / double(N));
}

__global__ void ce_backward_kernel(const float* __restrict__ x, const int64_t* __restrict__ t,
                                   const double* __restrict__ lse, const float* __restrict__ g, int64_t N, int64_t K,
                                   double ls, float* __restrict__ dx) {
  const double scale = double(*g) / double(N), off = ls / double(K), on = 1.0 - ls;
  const int64_t total = N * K;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / K, k = i - n * K;
    dx[i] = static_cast<float>((exp(double(x[i]) - lse[n]) - off - (k == t[n] ? on : 0.0)) * scale);
  }
}

}  // namespace

void cross_entropy_forward(const float* logits, const int64_t* targets, int64_t N, int64_t K, double ls, double* lse,
                           double* row_loss, float* loss) {
  const int64_t blocks = (N + kRowsPerBlock - 1) / kRowsPerBlock;
  ce_rows_kernel<<<unsigned(blocks), kThreads, 0, stream()>>>(logits, targets, N, K, ls, lse, row_loss);
  check_launch("cross_entropy rows kernel");
  ce_mean_kernel<<<1, kThreads, 0, stream()>>>(row_loss, N, loss);
  check_launch("cross_entropy mean kernel");
}

void cross_entropy_backward(const float* logits, const int64_t* targets, const double* lse, const float* g, int64_t N,
                            int64_t K, double ls, float* dx) {
  if (N * K == 0) return;
  ce_backward_kernel<<<blocks_for(N * K, kThreads), kThreads, 0, stream()>>>(logits, targets, lse, g, N, K, ls, dx);
  check_launch("cross_entropy backward kernel");
}

}  // namespace nf::cuda
