// The CPU loops of the SGD and AdamW updates (for framework/ops/optimizer_update.cpp,
// which checks the tensors and computes the scalars; the CUDA counterpart is the
// multi-tensor kernel of backends/cuda/optimizer_update.h, bitwise equal to these).
// One call updates one parameter in place: p, g and the state buffers are n contiguous
// F32 values each (flat, any rank), on the CPU. The formulas are PyTorch 1.13's
// torch.optim.SGD and AdamW, rounded operation by operation as its kernels do.
#pragma once
#include <cstdint>

namespace nf::cpu {

struct SgdScalars {
  float neg_lr, wd, momentum, one_minus_dampening;
  bool use_wd, use_momentum, nesterov, first;
};

// buf is unused (may be null) without momentum; s.first: buf = d instead of the
// running update.
void sgd_update(float* p, const float* g, float* buf, int64_t n, SgdScalars s);

struct AdamWScalars {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size;
};

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, AdamWScalars s);

}  // namespace nf::cpu
