// torch.optim.SGD (PyTorch 1.13): momentum, dampening, Nesterov, L2 weight decay
// added to the gradient. State: "momentum_buffer.<param>" (F32, the parameter's
// shape) when momentum != 0, created from the first step's d_p as PyTorch does.
// The update math is ops::sgd_update_multi (framework/ops/optimizer_update.h).
#pragma once
#include "framework/optim/optimizer.h"

namespace nf::optim {

struct SgdOptions {
  double lr = 0.1, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  // One group with o.lr and o.weight_decay.
  SGD(NamedTensors params, const SgdOptions& o);
  // Groups carry their own lr and weight_decay; o gives momentum, dampening, nesterov.
  SGD(std::vector<ParamGroup> groups, const SgdOptions& o);
  const SgdOptions& options() const { return opt_; }

 protected:
  void update(const ParamGroup& group, const std::vector<GradParam>& params) override;

 private:
  SgdOptions opt_;
};

}  // namespace nf::optim
