// Multi-tensor SGD and AdamW updates on the GPU (the CUDA branch of
// framework/ops/optimizer_update.h). One kernel launch updates a whole list of tensors:
// the list travels as a __grid_constant__ kernel parameter (a table of pointers, sizes
// and per-tensor scalars; up to kMaxTensorsPerLaunch per launch, more lists launch
// again), and the kernel's blocks walk the (tensor, chunk) pairs grid-stride.
// Every tensor is F32, contiguous (flat, any rank) and on the current device; the
// math rounds operation by operation as the CPU loops in optimizer_update.cpp
// (__fmaf_rn where they use std::fma, __fmul_rn/__fadd_rn/__fdiv_rn/__fsqrt_rn
// elsewhere), so GPU updates are bitwise equal to the CPU ones.
#pragma once
#include <cstdint>
#include <vector>

namespace nf::cuda {

// Scalars shared by every tensor of an SGD update (see ops::SgdHyper).
struct SgdConsts {
  float neg_lr, wd, momentum, one_minus_dampening;
  bool use_wd, use_momentum, nesterov;
};

struct SgdTensor {
  float* param;
  const float* grad;
  float* momentum_buf;  // unused (may be null) without momentum
  int64_t n;
  bool first_step;  // momentum_buf = d_p instead of the running update
};

void sgd_multi(const std::vector<SgdTensor>& tensors, const SgdConsts& c);

// Scalars shared by every tensor of an AdamW update (see ops::AdamWHyper).
struct AdamWConsts {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
};

struct AdamWTensor {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  int64_t n;
  float bias_correction2_sqrt, neg_step_size;  // depend on the tensor's own step count
};

void adamw_multi(const std::vector<AdamWTensor>& tensors, const AdamWConsts& c);

}  // namespace nf::cuda
