// Optimizer base: groups, step loop, lr scaling, state_dict save/validate/load.
#include "framework/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "framework/autograd/autograd.h"

namespace nf::optim {

namespace {

Tensor copy_to(const Tensor& t, Device device) {
  Tensor c = Tensor::empty(t.shape(), t.dtype(), device);
  c.copy_(t);
  return c;
}

}  // namespace

std::string format_value(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Optimizer::Optimizer(std::string type, std::vector<ParamGroup> groups, std::vector<StateKind> kinds)
    : type_(std::move(type)), groups_(std::move(groups)), kinds_(std::move(kinds)) {
  NF_CHECK(!groups_.empty(), type_ + ": no parameter groups");
  std::set<std::string> names;
  size_t count = 0;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const ParamGroup& g = groups_[i];
    NF_CHECK(std::isfinite(g.lr) && g.lr >= 0, type_ + ": invalid learning rate " + format_value(g.lr) +
                                                   " in parameter group " + std::to_string(i));
    NF_CHECK(std::isfinite(g.weight_decay) && g.weight_decay >= 0,
             type_ + ": invalid weight_decay " + format_value(g.weight_decay) + " in parameter group " +
                 std::to_string(i));
    for (const auto& [name, p] : g.params) {
      NF_CHECK(p.defined(), type_ + ": parameter '" + name + "' is undefined");
      NF_CHECK(names.insert(name).second, type_ + ": parameter '" + name + "' appears twice");
      ++count;
    }
  }
  NF_CHECK(count > 0, type_ + ": got an empty parameter list");
  const double lr0 = groups_.front().lr;
  for (const ParamGroup& g : groups_) lr_ratio_.push_back(lr0 != 0 ? g.lr / lr0 : 1.0);
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (const ParamGroup& g : groups_) {
    // One list per device, in parameter order (a group normally lives on one device).
    std::vector<std::vector<GradParam>> per_device;
    for (const auto& [name, p] : g.params) {
      if (!p.requires_grad() || !p.grad().defined()) continue;
      const auto device = p.device();  // clang 14 (tools/scripts/fuzz.sh) cannot capture the structured binding p
      auto same = std::find_if(per_device.begin(), per_device.end(),
                               [&](const std::vector<GradParam>& l) { return l.front().param.device() == device; });
      if (same == per_device.end()) same = per_device.emplace(per_device.end());
      same->push_back({name, p, p.grad().contiguous()});
    }
    for (const std::vector<GradParam>& params : per_device) update(g, params);
  }
  ++step_;
}

void Optimizer::zero_grad() {
  for (ParamGroup& g : groups_)
    for (auto& [name, p] : g.params) p.set_grad(Tensor());
}

void Optimizer::set_lr(double lr) {
  NF_CHECK(std::isfinite(lr) && lr >= 0, type_ + ": invalid learning rate " + format_value(lr));
  for (size_t i = 0; i < groups_.size(); ++i) groups_[i].lr = lr * lr_ratio_[i];
}

Tensor* Optimizer::find_state(const std::string& kind, const std::string& param_name) {
  auto it = state_.find(kind + "." + param_name);
  return it == state_.end() ? nullptr : &it->second;
}

void Optimizer::set_state(const std::string& kind, const std::string& param_name, Tensor t) {
  state_[kind + "." + param_name] = std::move(t);
}

const Tensor* Optimizer::find_param(const std::string& name) const {
  for (const ParamGroup& g : groups_)
    for (const auto& [n, p] : g.params)
      if (n == name) return &p;
  return nullptr;
}

io::TensorDict Optimizer::state_dict() const {
  io::TensorDict dict;
  for (const auto& [key, t] : state_) dict[key] = copy_to(t, Device::cpu());
  dict["step"] = Tensor::from_vector(std::vector<int64_t>{step_}, {});
  return dict;
}

void Optimizer::load_state_dict(const io::TensorDict& dict) {
  const std::string where = type_ + " state_dict: ";
  auto step_it = dict.find("step");
  NF_CHECK(step_it != dict.end(), where + "missing 'step'");
  const Tensor& step_t = step_it->second;
  NF_CHECK(step_t.dtype() == DType::I64 && step_t.dim() == 0,
           where + "'step' must be an I64 scalar, got " + step_t.str());
  const int64_t step = step_t.to_int_vector().at(0);
  NF_CHECK(step >= 0, where + "'step' is negative (" + std::to_string(step) + ")");

  std::map<std::string, Tensor> state;
  std::map<std::string, size_t> kinds_per_param;
  for (const auto& [key, t] : dict) {
    if (key == "step") continue;
    const size_t dot = key.find('.');
    const std::string kind = key.substr(0, dot), name = dot == std::string::npos ? "" : key.substr(dot + 1);
    const StateKind* k = nullptr;
    for (const StateKind& sk : kinds_)
      if (sk.name == kind) k = &sk;
    NF_CHECK(k && !name.empty(), where + "unknown key '" + key + "'");
    const Tensor* p = find_param(name);
    NF_CHECK(p, where + "'" + key + "' names no parameter of this optimizer");
    if (k->counter) {
      NF_CHECK(t.dtype() == DType::I64 && t.dim() == 0, where + "'" + key + "' must be an I64 scalar, got " + t.str());
      state[key] = copy_to(t, Device::cpu());
    } else {
      NF_CHECK(t.dtype() == DType::F32, where + "'" + key + "' must be F32, got " + t.str());
      NF_CHECK(t.shape() == p->shape(), where + "'" + key + "' has shape " + shape_str(t.shape()) +
                                            ", parameter has " + shape_str(p->shape()));
      state[key] = copy_to(t, p->device());
    }
    ++kinds_per_param[name];
  }
  for (const auto& [name, n] : kinds_per_param)
    NF_CHECK(n == kinds_.size(), where + "parameter '" + name + "' has " + std::to_string(n) + " of its " +
                                     std::to_string(kinds_.size()) + " state entries");
  state_ = std::move(state);
  step_ = step;
}

}  // namespace nf::optim
