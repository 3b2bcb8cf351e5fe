// CUDA batch normalization for framework/ops/batch_norm.cpp, which owns the semantics
// (framework/ops/batch_norm.h); the same formulas as the CPU branch there, as kernels.
// Layout: x, y, g, dx, the residual and its gradient are dense F32 tensors of one shape
// and one memory format, seen as [N, C, S] (S = H*W, L or 1): row-major (NCHW) or
// channels-last (rows [N*S, C]). weight, bias and the statistics are contiguous [C] F32;
// an undefined weight/bias means affine=false (scale 1, shift 0); an undefined output is
// not wanted. Per-channel sums are taken in double in a fixed order (row chunks of a
// size set by the shape, then the chunks in order): deterministic, no atomics.
// Everything runs on the tensors' device's stream.
#pragma once
#include <vector>

#include "framework/backends/batch_norm_sums.h"
#include "framework/core/tensor.h"

namespace nf::cuda {

// Batch mean and biased variance of x into mean/var ([C], rounded from double; the
// sums are shifted by the first row, as on the CPU). With running_mean/var defined
// they are blended in place: r = (1 - factor) * r + factor * v, the variance unbiased
// (n / (n - 1)), in double.
void batch_norm_stats(const Tensor& x, Tensor& mean, Tensor& var, Tensor& running_mean, Tensor& running_var,
                      double factor);

// The halves of SyncBatchNorm (framework/ops/sync_batch_norm.h), as on the CPU
// (framework/backends/cpu/batch_norm.h): the same per-channel partial sums as above,
// copied to the host and totalled there in chunk order (the statistics cross the ranks
// on the host anyway); the blends and coefficients in double on the host, uploaded; dx
// by the same kernel as batch_norm_backward. Each waits for the device's stream.
void batch_norm_moments(const Tensor& x, std::vector<double>& mean, std::vector<double>& var);
void batch_norm_set_stats(const std::vector<double>& mean, const std::vector<double>& var, int64_t n, Tensor& mean_f,
                          Tensor& var_f, Tensor& running_mean, Tensor& running_var, double factor);
BatchNormGradSums batch_norm_grad_sums(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& mean,
                                       Tensor& dres);
void batch_norm_grad_apply(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& weight,
                           const Tensor& mean, const Tensor& var, double eps, bool batch_stats,
                           const BatchNormGradSums& local, const BatchNormGradSums& total, double n, Tensor& dx,
                           Tensor& dweight, Tensor& dbias);

// y = relu?(x * alpha + beta + residual?), alpha = weight / sqrt(var + eps),
// beta = bias - mean * alpha (per channel); residual undefined: none.
void batch_norm_apply(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                      const Tensor& var, double eps, const Tensor& residual, bool relu, Tensor& y);

// The backward (PyTorch's formulas, as the CPU branch): g' = g where y_relu > 0 (when
// y_relu, the fused ReLU's output, is defined), written to dres if defined;
// sum_dy = sum g', sum_dy_xmu = sum g' * (x - mean), invstd = 1 / sqrt(var + eps);
// dweight = sum_dy_xmu * invstd, dbias = sum_dy, and
// dx = (g' - sum_dy / n - (x - mean) * sum_dy_xmu * invstd^2 / n) * invstd * weight
// with batch statistics, dx = g' * invstd * weight with given ones.
void batch_norm_backward(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& weight,
                         const Tensor& mean, const Tensor& var, double eps, bool batch_stats, Tensor& dx,
                         Tensor& dweight, Tensor& dbias, Tensor& dres);

// count += 1 for an I64 tensor of one element, on the device.
void increment_(Tensor& count);

// ops::fold_batch_norm on raw device pointers (b, gamma, beta may be null: 0, 1, 0):
// w [O, per_out], mean/var [O]; writes wf [O, per_out] and bf [O].
void fold_batch_norm(Device device, const float* w, const float* b, const float* mean, const float* var,
                     const float* gamma, const float* beta, double eps, int64_t O, int64_t per_out, float* wf,
                     float* bf);

}  // namespace nf::cuda
