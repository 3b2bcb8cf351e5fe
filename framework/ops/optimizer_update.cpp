// SGD and AdamW updates (see optimizer_update.h): checks and the host scalars here, the
// CPU loops in backends/cpu/optimizer_update (one call per tensor). The per-tensor entry
// points are one-slot lists; the CUDA branch hands the whole list to one kernel launch
// with the same float scalars the CPU loop gets.
#include "framework/ops/optimizer_update.h"

#include <algorithm>
#include <cmath>

#include "framework/backends/cpu/optimizer_update.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/optimizer_update.h"

namespace nf::ops {

namespace {

using cpu::AdamWScalars;
using cpu::SgdScalars;

void check_state(const char* op, const Tensor& param, const Tensor& t, const char* what) {
  NF_CHECK(t.defined(), std::string(op) + ": " + what + " is undefined");
  check_same_device(op, {param, t});
  check_dtype(op, t, DType::F32);
  NF_CHECK(t.shape() == param.shape(), std::string(op) + ": " + what + " has shape " + shape_str(t.shape()) +
                                           ", parameter has " + shape_str(param.shape()));
  NF_CHECK(t.is_contiguous(), std::string(op) + ": " + what + " must be contiguous, got " + t.str());
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
        cpu::sgd_update(slots[i].param.data<float>(), slots[i].grad.data<float>(),
                        s[i].use_momentum ? slots[i].momentum_buf.data<float>() : nullptr, slots[i].param.numel(),
                        s[i]);
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
        cpu::adamw_update(slots[i].param.data<float>(), slots[i].grad.data<float>(), slots[i].exp_avg.data<float>(),
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
