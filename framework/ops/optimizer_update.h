// In-place optimizer updates, the math of torch.optim.SGD and torch.optim.AdamW
// (PyTorch 1.13, single-tensor path), written once and dispatched by device.
// Shapes: param, grad and every state buffer have the same shape (any rank), are
// F32, contiguous and on one device. grad is never modified.
//
// Rounding follows PyTorch's CPU kernels step by step: each PyTorch op rounds once,
// hyper-parameters are cast to float where PyTorch casts its Python scalars, and
// `a.add(b, alpha=s)` / `addcmul` are fused multiply-adds as in ATen's vectorized
// kernels (vec::fmadd), so results match PyTorch bitwise on FMA hardware.
// oneDNN has no optimizer primitives, so the CPU branch is an OpenMP loop. The CUDA
// branch (framework/backends/cuda/optimizer_update.cu) rounds operation by operation
// as the CPU loop, so a GPU update is bitwise equal to the CPU update of the same inputs.
//
// The *_multi entry points update a list of parameters with the same hyper-parameters
// as the per-tensor calls in list order would, checking every slot before changing any.
// All slots are on one device and name distinct parameters. CPU: the per-tensor loops
// in turn. CUDA: one kernel launch for the whole list (up to 512 tensors a launch).
#pragma once
#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

namespace nf::ops {

struct SgdHyper {
  double lr = 0.1, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

// d_p = grad + wd*param (when wd != 0);
// if momentum != 0: buf = d_p on the first step, else buf = momentum*buf + (1-dampening)*d_p;
//                   d_p = nesterov ? d_p + momentum*buf : buf;
// param -= lr*d_p.   momentum_buf is ignored (may be undefined) when momentum == 0.
void sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum_buf, const SgdHyper& h, bool first_step);

struct SgdSlot {
  Tensor param, grad, momentum_buf;  // momentum_buf as for sgd_update
  bool first_step = false;
};
void sgd_update_multi(const std::vector<SgdSlot>& slots, const SgdHyper& h);

struct AdamWHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};

// step is this update's 1-based count (PyTorch's state['step'] after its increment).
// param *= 1 - lr*wd; exp_avg = beta1*exp_avg + (1-beta1)*grad;
// exp_avg_sq = beta2*exp_avg_sq + (1-beta2)*grad*grad;
// denom = sqrt(exp_avg_sq)/sqrt(1-beta2^step) + eps; param -= lr/(1-beta1^step) * exp_avg/denom.
void adamw_update(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamWHyper& h,
                  int64_t step);

struct AdamWSlot {
  Tensor param, grad, exp_avg, exp_avg_sq;
  int64_t step = 1;  // this parameter's own 1-based count, as for adamw_update
};
void adamw_update_multi(const std::vector<AdamWSlot>& slots, const AdamWHyper& h);

}  // namespace nf::ops
