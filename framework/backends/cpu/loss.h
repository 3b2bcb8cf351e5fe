// cross_entropy on the CPU (for framework/ops/loss.cpp), plain loops with the log-sum-exp
// of each row in double; named as the CUDA launchers (backends/cuda/loss.h).
// Pointers to contiguous CPU memory: logits [N, K] F32 row-major, targets [N] I64,
// lse [N] double (each row's log-sum-exp, kept for the backward), loss: one F32,
// dx [N, K] F32; N >= 1.
// oneDNN's softmax_log was measured at up to 3.3e-6 relative error in exp(logp)
// (gradient rows summing to 4e-7 instead of 0), about 30x PyTorch's, which moved every
// downstream gradient of a ResNet off PyTorch's; the loss is tiny (N x K), so exactness
// costs nothing here.
#pragma once
#include <cstdint>

namespace nf::cpu {

// loss = mean over rows of -(1-ls) * logp[t] - ls * mean_k logp[k], logp = x - lse.
// Throws nf::Error for a target outside [0, K).
void cross_entropy_forward(const float* logits, const int64_t* targets, int64_t N, int64_t K, double ls, double* lse,
                           float* loss);
// dx = g * (softmax(x) - (1-ls)*onehot(t) - ls/K) / N, softmax from the saved lse.
void cross_entropy_backward(const float* logits, const int64_t* targets, const double* lse, double g, int64_t N,
                            int64_t K, double ls, float* dx);

}  // namespace nf::cpu
