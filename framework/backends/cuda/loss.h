// Launchers for ops/loss.cpp's cross_entropy on the GPU. All pointers are device pointers:
//   logits [N, K] F32 row-major, targets [N] I64, lse / row_loss [N] double (one
//   log-sum-exp and one loss per row, kept for the backward), loss: the 0-d F32 output,
//   N >= 1. g: the 0-d F32 incoming gradient (read by the kernel, no host sync), dx [N, K] F32.
// A target outside [0, K) makes its row's loss, and so the mean, NaN (a kernel cannot
// throw). Run on the current device's stream (the caller holds a cuda::Scope).
#pragma once
#include <cstdint>

namespace nf::cuda {

void cross_entropy_forward(const float* logits, const int64_t* targets, int64_t N, int64_t K, double ls, double* lse,
                           double* row_loss, float* loss);
void cross_entropy_backward(const float* logits, const int64_t* targets, const double* lse, const float* g, int64_t N,
                            int64_t K, double ls, float* dx);

}  // namespace nf::cuda
