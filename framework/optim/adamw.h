// torch.optim.AdamW (PyTorch 1.13, amsgrad=False): decoupled weight decay
// (param *= 1 - lr*wd), bias-corrected moments, eps added after the square root.
// State per parameter: "exp_avg.<param>", "exp_avg_sq.<param>" (F32, the parameter's
// shape, zeros at its first step) and "step.<param>" (I64 scalar: that parameter's
// own update count, as PyTorch's state['step']). Math: ops::adamw_update_multi.
#pragma once
#include "framework/optim/optimizer.h"

namespace nf::optim {

struct AdamWOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};

class AdamW : public Optimizer {
 public:
  // One group with o.lr and o.weight_decay.
  AdamW(NamedTensors params, const AdamWOptions& o);
  // Groups carry their own lr and weight_decay; o gives betas and eps.
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o);
  const AdamWOptions& options() const { return opt_; }

 protected:
  void update(const ParamGroup& group, const std::vector<GradParam>& params) override;

 private:
  AdamWOptions opt_;
};

}  // namespace nf::optim
