// SGD and AdamW updates (see optimizer_update.h). The CPU loops are OpenMP
// `parallel for simd` (parallel only for large tensors, where threads pay off).
// std::fma marks exactly the fused multiply-adds PyTorch's kernels perform; every
// other product and sum is written so the compiler cannot contract it. On x86-64
// the loops are also compiled for x86-64-v3 (AVX2 + FMA) and picked at run time,
// so the FMAs vectorize instead of calling libm's fmaf. The per-tensor entry points
// are one-slot lists; the CUDA branch hands the whole list to one kernel launch
// with the same float scalars the CPU loop gets.
#include "framework/ops/optimizer_update.h"

#include <algorithm>
#include <cmath>

#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/optimizer_update.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define NF_FMA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NF_FMA_CLONES
#endif

namespace nf::ops {

namespace {

constexpr int64_t kParallelMin = int64_t(1) << 15;

void check_state(const char* op, const Tensor& param, const Tensor& t, const char* what) {
  NF_CHECK(t.defined(), std::string(op) + ": " + what + " is undefined");
  check_same_device(op, {param, t});
  check_dtype(op, t, DType::F32);
  NF_CHECK(t.shape() == param.shape(), std::string(op) + ": " + what + " has shape " + shape_str(t.shape()) +
                                           ", parameter has " + shape_str(param.shape()));
  NF_CHECK(t.is_contiguous(), std::string(op) + ": " + what + " must be contiguous, got " + t.str());
}

struct SgdScalars {
  float neg_lr, wd, momentum, one_minus_dampening;
  bool use_wd, use_momentum, nesterov, first;
};

NF_FMA_CLONES
void sgd_cpu(float* __restrict p, const float* __restrict g, float* __restrict buf, int64_t n, SgdScalars s) {
  if (!s.use_momentum) {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      const float d = s.use_wd ? std::fma(p[i], s.wd, g[i]) : g[i];  // grad.add(param, alpha=wd)
      p[i] = std::fma(d, s.neg_lr, p[i]);                             // param.add_(d, alpha=-lr)
    }
    return;
  }
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float d = s.use_wd ? std::fma(p[i], s.wd, g[i]) : g[i];
    const float b = s.first ? d : std::fma(d, s.one_minus_dampening, buf[i] * s.momentum);  // buf.mul_(m).add_(d, alpha=1-damp)
    buf[i] = b;
    p[i] = std::fma(s.nesterov ? std::fma(b, s.momentum, d) : b, s.neg_lr, p[i]);  // d.add(buf, alpha=m) or buf
  }
}

struct AdamWScalars {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size;
};

NF_FMA_CLONES
void adamw_cpu(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
               AdamWScalars s) {
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    float pi = p[i] * s.decay;                                          // param.mul_(1 - lr*wd)
    float mi = std::fma(gi, s.one_minus_beta1, m[i] * s.beta1);         // exp_avg.mul_(b1).add_(g, alpha=1-b1)
    float vi = std::fma(s.one_minus_beta2 * gi, gi, v[i] * s.beta2);    // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
    float denom = std::sqrt(vi) / s.bias_correction2_sqrt + s.eps;      // (sqrt(v) / bc2_sqrt).add_(eps)
    p[i] = pi + (s.neg_step_size * mi) / denom;                         // param.addcdiv_(m, denom, -step_size)
    m[i] = mi;
    v[i] = vi;
  }
}

void check_param(const char* op, const Tensor& param, const Tensor& first) {
  check_same_device(op, {first, param});
  check_dtype(op, param, DType::F32);
  NF_CHECK(param.is_contiguous(), std::string(op) + ": parameter must be contiguous, got " + param.str());
}

SgdScalars sgd_checked(const SgdSlot& slot, const SgdHyper& h, const Tensor& first) {
  const char* op = "sgd_update";
  check_param(op, slot.param, first);
  check_state(op, slot.param, slot.grad, "grad");
  const bool use_momentum = h.momentum != 0;
  if (use_momentum) check_state(op, slot.param, slot.momentum_buf, "momentum buffer");
  NF_CHECK(!h.nesterov || (use_momentum && h.dampening == 0),
           "sgd_update: Nesterov momentum requires a momentum and zero dampening");
  return {float(-h.lr),  float(h.weight_decay), float(h.momentum), float(1 - h.dampening),
          h.weight_decay != 0, use_momentum, h.nesterov, slot.first_step};
}

AdamWScalars adamw_checked(const AdamWSlot& slot, const AdamWHyper& h, const Tensor& first) {
  const char* op = "adamw_update";
  check_param(op, slot.param, first);
  check_state(op, slot.param, slot.grad, "grad");
  check_state(op, slot.param, slot.exp_avg, "exp_avg");
  check_state(op, slot.param, slot.exp_avg_sq, "exp_avg_sq");
  NF_CHECK(slot.step >= 1, "adamw_update: step must be >= 1, got " + std::to_string(slot.step));
  // Host scalars in double, as PyTorch computes them in Python.
  const double bias_correction1 = 1 - std::pow(h.beta1, double(slot.step));
  const double bias_correction2 = 1 - std::pow(h.beta2, double(slot.step));
  return {float(1 - h.lr * h.weight_decay), float(h.beta1), float(1 - h.beta1), float(h.beta2),
          float(1 - h.beta2), float(std::sqrt(bias_correction2)), float(h.eps),
          float(-(h.lr / bias_correction1))};
}

// One fused launch writes every slot at once: two slots on one parameter would race.
template <class Slot>
void check_distinct(const char* op, const std::vector<Slot>& slots) {
  std::vector<const void*> ptrs;
  for (const Slot& s : slots)
    if (s.param.numel() > 0) ptrs.push_back(s.param.raw_data());
  std::sort(ptrs.begin(), ptrs.end());
  NF_CHECK(std::adjacent_find(ptrs.begin(), ptrs.end()) == ptrs.end(),
           std::string(op) + ": the same parameter is in two slots of one update");
}

}  // namespace

void sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum_buf, const SgdHyper& h, bool first_step) {
  sgd_update_multi({SgdSlot{param, grad, momentum_buf, first_step}}, h);
}

void sgd_update_multi(const std::vector<SgdSlot>& slots, const SgdHyper& h) {
  if (slots.empty()) return;
  const Tensor& first = slots.front().param;
  std::vector<SgdScalars> s;
  for (const SgdSlot& slot : slots) s.push_back(sgd_checked(slot, h, first));
  switch (first.device().type) {
    case DeviceType::CPU:
      for (size_t i = 0; i < slots.size(); ++i)
        sgd_cpu(slots[i].param.data<float>(), slots[i].grad.data<float>(),
                s[i].use_momentum ? slots[i].momentum_buf.data<float>() : nullptr, slots[i].param.numel(), s[i]);
      break;
    case DeviceType::CUDA: {
      check_distinct("sgd_update", slots);
      cuda::Scope scope(first.device());
      std::vector<cuda::SgdTensor> tensors;
      for (size_t i = 0; i < slots.size(); ++i)
        tensors.push_back({slots[i].param.data<float>(), slots[i].grad.data<float>(),
                           s[i].use_momentum ? slots[i].momentum_buf.data<float>() : nullptr,
                           slots[i].param.numel(), s[i].first});
      const SgdScalars& c = s.front();
      cuda::sgd_multi(tensors, {c.neg_lr, c.wd, c.momentum, c.one_minus_dampening, c.use_wd, c.use_momentum,
                                c.nesterov});
      break;
    }
    default: unsupported_device("sgd_update", first);
  }
}

void adamw_update(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamWHyper& h,
                  int64_t step) {
  adamw_update_multi({AdamWSlot{param, grad, exp_avg, exp_avg_sq, step}}, h);
}

void adamw_update_multi(const std::vector<AdamWSlot>& slots, const AdamWHyper& h) {
  if (slots.empty()) return;
  const Tensor& first = slots.front().param;
  std::vector<AdamWScalars> s;
  for (const AdamWSlot& slot : slots) s.push_back(adamw_checked(slot, h, first));
  switch (first.device().type) {
    case DeviceType::CPU:
      for (size_t i = 0; i < slots.size(); ++i)
        adamw_cpu(slots[i].param.data<float>(), slots[i].grad.data<float>(), slots[i].exp_avg.data<float>(),
                  slots[i].exp_avg_sq.data<float>(), slots[i].param.numel(), s[i]);
      break;
    case DeviceType::CUDA: {
      check_distinct("adamw_update", slots);
      cuda::Scope scope(first.device());
      std::vector<cuda::AdamWTensor> tensors;
      for (size_t i = 0; i < slots.size(); ++i)
        tensors.push_back({slots[i].param.data<float>(), slots[i].grad.data<float>(), slots[i].exp_avg.data<float>(),
                           slots[i].exp_avg_sq.data<float>(), slots[i].param.numel(), s[i].bias_correction2_sqrt,
                           s[i].neg_step_size});
      const AdamWScalars& c = s.front();
      cuda::adamw_multi(tensors, {c.decay, c.beta1, c.one_minus_beta1, c.beta2, c.one_minus_beta2, c.eps});
      break;
    }
    default: unsupported_device("adamw_update", first);
  }
}

}  // namespace nf::ops
