// CUDA Group Normalization for framework/ops/group_norm.cpp, which owns the semantics
// (framework/ops/group_norm.h); the same entry points and formulas as the CPU kernels
// (framework/backends/cpu/group_norm.h). Plain C++: included by ops/ in every build.
// Layout: x, y, g and dx are dense F32 tensors of one shape and one memory format,
// seen as [N, C, S] (S = H*W, L or 1): row-major (NCHW) or channels-last (rows
// [N*S, C]). weight and bias are contiguous [C] F32 (undefined: affine=false, scale 1,
// shift 0); mean, rstd and var are contiguous [N, G] F32; an undefined output (var is
// optional) is not wanted.
// Sums are taken in double in a fixed order (one block per (sample, group), a fixed
// reduction tree): deterministic, no atomics. Everything runs on the device's stream.
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::cuda {

// The forward and the backward, with the formulas of cpu::group_norm_forward and
// cpu::group_norm_backward (framework/backends/cpu/group_norm.h): mean and rstd (and the
// biased var when defined) [N, G] of each (sample, group), y = x * alpha + beta; dx,
// dweight, dbias as asked for.
void group_norm_forward(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                        Tensor& y, Tensor& mean, Tensor& rstd, Tensor& var);
void group_norm_backward(const Tensor& x, const Tensor& g, int64_t groups, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, Tensor& dx, Tensor& dweight, Tensor& dbias);

}  // namespace nf::cuda
