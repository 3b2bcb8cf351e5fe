// Module and Sequential (see module.h).
#include "layers/module.h"

#include "layers/onnx_graph.h"

namespace nf {

namespace {
thread_local ForwardHook g_hook;
}

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  run_forward_hook(x, y);
  return y;
}

int64_t Module::macs(const Shape&, const Shape&) const { return 0; }

std::string Module::to_onnx(OnnxGraph&, const std::string& prefix, const std::string&) {
  throw Error("export: " + (prefix.empty() ? std::string("the model") : prefix) + " (" + type_name() +
              ") has no ONNX form");
}

void Module::run_forward_hook(const Tensor& x, const Tensor& y) const {
  if (g_hook) g_hook(*this, x, y);
}

ForwardHookGuard::ForwardHookGuard(ForwardHook hook) : prev_(std::move(g_hook)) { g_hook = std::move(hook); }
ForwardHookGuard::~ForwardHookGuard() { g_hook = std::move(prev_); }

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  t.set_requires_grad(requires_grad);
  params_.emplace_back(name, t);
  return params_.back().second;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return buffers_.back().second;
}

Named<ModulePtr> Module::named_modules() const {
  Named<ModulePtr> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(name + "." + sub, m);
  }
  return out;
}

Named<Tensor> Module::named_parameters() const {
  Named<Tensor> out = params_;
  for (const auto& [name, child] : children_)
    for (auto& [sub, t] : child->named_parameters()) out.emplace_back(name + "." + sub, t);
  return out;
}

Named<Tensor> Module::named_buffers() const {
  Named<Tensor> out = buffers_;
  for (const auto& [name, child] : children_)
    for (auto& [sub, t] : child->named_buffers()) out.emplace_back(name + "." + sub, t);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

io::TensorDict Module::state_dict() const {
  io::TensorDict d;
  for (auto& [n, t] : named_parameters()) d[n] = t;
  for (auto& [n, t] : named_buffers()) d[n] = t;
  return d;
}

void Module::load_state_dict(const io::TensorDict& dict, bool strict) {
  io::TensorDict own = state_dict();
  if (strict)
    for (auto& [name, t] : dict)
      NF_CHECK(own.count(name), "load_state_dict: unexpected key '" + name + "' (no such parameter or buffer)");
  for (auto& [name, t] : own) {
    auto it = dict.find(name);
    if (it == dict.end()) {
      NF_CHECK(!strict, "load_state_dict: missing key '" + name + "'");
      continue;
    }
    NF_CHECK(it->second.shape() == t.shape(), "load_state_dict: '" + name + "' has shape " +
                                                  shape_str(it->second.shape()) + ", the model expects " +
                                                  shape_str(t.shape()));
    NF_CHECK(it->second.dtype() == t.dtype(), "load_state_dict: '" + name + "' has dtype " +
                                                  dtype_name(it->second.dtype()) + ", the model expects " +
                                                  dtype_name(t.dtype()));
    Tensor dst = t;
    dst.copy_(it->second);
  }
}

void Module::replace_children(size_t first, size_t span, ModulePtr m) {
  NF_CHECK(span >= 1 && first + span <= children_.size(), "Module::replace_children: out of range");
  children_[first].second = std::move(m);
  children_.erase(children_.begin() + first + 1, children_.begin() + first + span);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.set_grad(Tensor());
}

void Module::to(Device device) {
  for (auto& [n, t] : state_dict()) {
    if (t.device() == device) continue;
    Tensor moved = t.to(device);
    TensorImpl* impl = t.impl();  // swap the storage under every handle to this tensor
    impl->storage = moved.storage();
    impl->offset = moved.impl()->offset;
    impl->strides = moved.strides();
    impl->grad.reset();
  }
}

std::string Module::repr(int indent) const {
  std::string s = type_name() + "(" + extra_repr();
  if (children_.empty()) return s + ")";
  s += "\n";
  for (const auto& [name, child] : children_)
    s += std::string(indent + 2, ' ') + "(" + name + "): " + child->repr(indent + 2) + "\n";
  return s + std::string(indent, ' ') + ")";
}

Sequential::Sequential(std::vector<ModulePtr> mods) {
  for (auto& m : mods) push_back(std::move(m));
}

void Sequential::push_back(ModulePtr m) { push_back(std::to_string(children().size()), std::move(m)); }

void Sequential::push_back(const std::string& name, ModulePtr m) {
  for (const auto& [n, c] : children()) NF_CHECK(n != name, "Sequential: two children named '" + name + "'");
  register_module(name, std::move(m));
}

Tensor Sequential::run(const Tensor& x, size_t begin, size_t end) {
  Tensor h = x;
  for (size_t i = begin; i < end;) {
    auto step = steps_.find(i);
    if (step != steps_.end() && i + step->second.span <= end) {
      h = step->second.call(h);
      i += step->second.span;
    } else {
      h = (*at(i))(h);
      ++i;
    }
  }
  return h;
}

std::string Sequential::to_onnx(OnnxGraph& g, const std::string& prefix, std::string x, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) x = at(i)->to_onnx(g, onnx_name(prefix, children()[i].first), x);
  return x;
}

void Sequential::set_step(size_t first, Step step) {
  NF_CHECK(step.span >= 1 && first + step.span <= size(), "Sequential::set_step: children [" + std::to_string(first) +
                                                              ", " + std::to_string(first + step.span) +
                                                              ") out of range");
  steps_[first] = std::move(step);
}

void Sequential::replace(size_t first, size_t span, ModulePtr m) {
  replace_children(first, span, std::move(m));
  steps_.clear();
}

}  // namespace nf
