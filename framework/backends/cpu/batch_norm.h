// CPU Batch Normalization for framework/ops/batch_norm.cpp, which owns the semantics
// (framework/ops/batch_norm.h); the same entry points and formulas as the CUDA kernels
// (framework/backends/cuda/batch_norm.h).
// Layout: the kernels see x as rows with the channel innermost: the channels-last
// tensor ([N, H, W, C] for images, [N, C] as is) is M = N*H*W rows of C channels; a
// blocked one (nChw16c, as conv writes it) is N*C/16 blocks of H*W rows of 16 channels.
// x, y, g, dx, the residual and its gradient are F32 tensors of x's shape, all in one of
// these two formats. weight, bias and the statistics are contiguous [C] F32; an undefined
// weight/bias means affine=false (scale 1, shift 0); an undefined output is not wanted.
// Per-channel sums are taken in double, as PyTorch's CPU kernel does (its acc_type of
// float is double): float sums lose ~1e-4 relative in dbias under cancellation (test
// BatchNormTrain.SumsUnderCancellationMatchFloat64). Rows are split into one range per
// thread; each thread sums its range into its own [C] partials, combined in thread order.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/backends/batch_norm_sums.h"
#include "framework/core/tensor.h"

namespace nf::cpu {

// Batch mean and biased variance of x into mean/var ([C], rounded from double). With
// running_mean/var defined they are blended in place from the double statistics:
// r = (1 - factor) * r + factor * v, the variance unbiased (n / (n - 1), n = M).
void batch_norm_stats(const Tensor& x, Tensor& mean, Tensor& var, Tensor& running_mean, Tensor& running_var,
                      double factor);

// The two halves of batch_norm_stats, for SyncBatchNorm (framework/ops/sync_batch_norm.h),
// which combines every rank's moments in between: the batch mean and biased variance
// of x per channel in double; then mean/var rounded into the [C] tensors and, with
// running_mean/var defined, the blend above with the variance unbiased by n / (n - 1).
void batch_norm_moments(const Tensor& x, std::vector<double>& mean, std::vector<double>& var);
void batch_norm_set_stats(const std::vector<double>& mean, const std::vector<double>& var, int64_t n, Tensor& mean_f,
                          Tensor& var_f, Tensor& running_mean, Tensor& running_var, double factor);

// y = relu?(x * alpha + beta + residual?), alpha = weight / sqrt(var + eps),
// beta = bias - mean * alpha (per channel); residual undefined: none.
void batch_norm_apply(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                      const Tensor& var, double eps, const Tensor& residual, bool relu, Tensor& y);

// The backward, PyTorch's batch_norm_cpu_backward: g' = g where y_relu > 0 (when y_relu,
// the fused ReLU's output, is defined), written to dres if defined;
// sum_dy = sum g', sum_dy_xmu = sum g' * (x - mean), invstd = 1 / sqrt(var + eps);
// dweight = sum_dy_xmu * invstd, dbias = sum_dy, and
// dx = (g' - sum_dy / n - (x - mean) * sum_dy_xmu * invstd^2 / n) * invstd * weight
// with batch statistics, dx = g' * invstd * weight with given ones.
void batch_norm_backward(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& weight,
                         const Tensor& mean, const Tensor& var, double eps, bool batch_stats, Tensor& dx,
                         Tensor& dweight, Tensor& dbias, Tensor& dres);

// The two halves of batch_norm_backward, for SyncBatchNorm: the per-channel sums in
// double (g' masked by the fused ReLU and written to dres if defined); then dweight and
// dbias from the `local` sums and dx from the `total` ones over n values (for one
// process both are the same sums, n = the values per channel of x).
BatchNormGradSums batch_norm_grad_sums(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& mean,
                                       Tensor& dres);
void batch_norm_grad_apply(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& weight,
                           const Tensor& mean, const Tensor& var, double eps, bool batch_stats,
                           const BatchNormGradSums& local, const BatchNormGradSums& total, double n, Tensor& dx,
                           Tensor& dweight, Tensor& dbias);

// ops::fold_batch_norm on raw pointers (b, gamma, beta may be null: 0, 1, 0):
// w [O, per_out], mean/var [O]; writes wf [O, per_out] and bf [O].
void fold_batch_norm(const float* w, const float* b, const float* mean, const float* var, const float* gamma,
                     const float* beta, double eps, int64_t O, int64_t per_out, float* wf, float* bf);

}  // namespace nf::cpu
