// Optimizer base (as torch.optim.Optimizer): parameter groups, step(), zero_grad(),
// the learning rate, and a state_dict that lets a checkpoint resume bitwise.
//
// Parameters are named (PyTorch state_dict names, e.g. "layer1.0.conv1.weight").
// step() skips parameters with requires_grad false or no gradient, as PyTorch does,
// and runs under NoGradGuard; it hands each group's remaining parameters to the
// subclass in one list per device (one fused kernel launch per group on CUDA).
// Per-parameter state buffers live on the parameter's device and have its shape
// (F32); state_dict() names them "<kind>.<param name>"
// ("momentum_buffer.fc.weight", "exp_avg.fc.bias"), per-parameter counters are I64
// scalars ("step.fc.bias"), and "step" (I64 scalar) counts step() calls. A parameter
// that never had a gradient has no state, as in PyTorch.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/io/safetensors.h"

namespace nf::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// A double as error messages show it ("0.1", "-1", "1e-08").
std::string format_value(double v);

struct ParamGroup {
  NamedTensors params;
  double lr = 0.1;
  double weight_decay = 0;
};

// A kind of per-parameter state: an F32 buffer shaped like the parameter, or an
// I64 scalar counter.
struct StateKind {
  std::string name;
  bool counter = false;
};

// A parameter due for an update: its gradient made contiguous, never to be modified.
struct GradParam {
  std::string name;
  Tensor param, grad;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  void step();       // one update of every parameter that has a gradient; then step_count() += 1
  void zero_grad();  // sets every gradient to undefined (PyTorch's set_to_none=True)

  // Sets group i's lr to lr * (group i's initial lr / group 0's initial lr), so groups
  // keep their ratios under a schedule; lr() is group 0's lr.
  void set_lr(double lr);
  double lr() const { return groups_.front().lr; }
  int64_t step_count() const { return step_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  // CPU copies of every state tensor plus "step". load_state_dict validates every name,
  // dtype and shape (one-line nf::Error naming the key) before changing anything.
  virtual io::TensorDict state_dict() const;
  virtual void load_state_dict(const io::TensorDict& dict);

 protected:
  Optimizer(std::string type, std::vector<ParamGroup> groups, std::vector<StateKind> kinds);

  // Updates the parameters of `group` that have a gradient, all on one device, in
  // one multi-tensor call (see ops::sgd_update_multi); `params` is never empty.
  virtual void update(const ParamGroup& group, const std::vector<GradParam>& params) = 0;

  Tensor* find_state(const std::string& kind, const std::string& param_name);  // nullptr when absent
  void set_state(const std::string& kind, const std::string& param_name, Tensor t);
  const std::string& type() const { return type_; }

 private:
  const Tensor* find_param(const std::string& name) const;

  std::string type_;  // "SGD", "AdamW": prefixes error messages
  std::vector<ParamGroup> groups_;
  std::vector<double> lr_ratio_;  // initial lr of group i / initial lr of group 0
  std::vector<StateKind> kinds_;
  std::map<std::string, Tensor> state_;  // "<kind>.<param name>" -> tensor
  int64_t step_ = 0;
};

}  // namespace nf::optim
