// Module: the base of every layer and model (as torch.nn.Module). It owns named
// parameters and buffers and named child modules, in registration order; names
// compose with '.' into PyTorch state_dict names ("layer1.0.bn1.running_var").
// train()/eval() switch the whole tree; freezing is requires_grad(false) on a parameter.
// Layers are thin: forward() calls one op in framework/ops. A layer also answers what the
// tools ask of it (its MACs for `summary`, its ONNX nodes for `export`, its role in the
// fusion pass), so they walk any model without knowing its layer types; a recipe reaches
// a layer through the layer registry (layers/registry.h).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/io/safetensors.h"

namespace nf {

class Module;
using ModulePtr = std::shared_ptr<Module>;
template <class T>
using Named = std::vector<std::pair<std::string, T>>;
class OnnxGraph;  // layers/onnx_graph.h

// What a module is to the fusion pass and BatchNorm folding (layers/fusion.h); each role
// names the classes that take it.
enum class FusionRole {
  None,
  Sequential,  // Sequential: its runs of children may become steps
  Residual,    // Residual: forward_relu, its body's tail may take the shortcut
  Conv,        // Conv2d: conv_bn with a following BatchNorm2d, ReLU or residual; folds a BatchNorm2d
  BatchNorm,   // BatchNorm1d/2d: forward_fused with a following ReLU; folds into a preceding Conv2d (2d)
  Relu,        // ReLU: a post-op of the step before it
};
// m as T, the class its role names, when m has role r; else null.
template <class T>
T* with_role(Module* m, FusionRole r);

// Called after every Module::operator() while installed (summary, profiling).
using ForwardHook = std::function<void(const Module& m, const Tensor& input, const Tensor& output)>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  // Call a module as m(x) (as in PyTorch): forward() plus the installed forward hook.
  Tensor operator()(const Tensor& x);
  // Runs the installed forward hook, for layers with fused entry points besides forward().
  void run_forward_hook(const Tensor& x, const Tensor& y) const;
  virtual std::string type_name() const = 0;  // "Conv2d", "BatchNorm2d", ...
  virtual std::string extra_repr() const { return ""; }  // "3, 16, kernel_size=3, ..."

  // Multiply-accumulates of one forward from input shape `in` to output shape `out`
  // (batch included): convolutions and linear layers count theirs; memory-bound layers
  // count 0, as ptflops/fvcore do.
  virtual int64_t macs(const Shape& in, const Shape& out) const;
  // Appends the ONNX nodes computing this module (state_dict prefix `prefix`) of the
  // value named `x` to g and returns its output's name; by default an nf::Error (no
  // ONNX form). layers/onnx_graph.h says what g offers.
  virtual std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x);
  virtual FusionRole fusion_role() const { return FusionRole::None; }

  // Recursive views, prefixed with the path from this module.
  Named<Tensor> named_parameters() const;
  Named<Tensor> named_buffers() const;
  Named<ModulePtr> named_modules() const;  // descendants, depth first, not this one
  std::vector<Tensor> parameters() const;
  const Named<ModulePtr>& children() const { return children_; }

  // Parameters + buffers by state_dict name; load copies values into the existing
  // tensors (shapes must match). strict: every key present, no unknown key.
  io::TensorDict state_dict() const;
  void load_state_dict(const io::TensorDict& dict, bool strict = true);

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();  // sets every parameter's grad to undefined
  // Moves every parameter and buffer to `device` in place (as PyTorch's module.to):
  // the handles layers and optimizers hold keep pointing at the moved tensors.
  // Gradients are dropped. Build the optimizer after moving the model.
  void to(Device device);
  std::string repr(int indent = 0) const;  // PyTorch-like printout of the tree

 protected:
  // Both return the registered handle (Tensor is a shared handle: keep it, not a reference).
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  // Children [first, first + span) become the one module m, under the first one's name.
  void replace_children(size_t first, size_t span, ModulePtr m);
  bool training_ = true;

 private:
  Named<Tensor> params_, buffers_;
  Named<ModulePtr> children_;
};

template <class T>
T* with_role(Module* m, FusionRole r) {
  return m && m->fusion_role() == r ? static_cast<T*>(m) : nullptr;
}

// Installs a forward hook for its lifetime (one per thread; restores the previous).
class ForwardHookGuard {
 public:
  explicit ForwardHookGuard(ForwardHook hook);
  ~ForwardHookGuard();
  ForwardHookGuard(const ForwardHookGuard&) = delete;
  ForwardHookGuard& operator=(const ForwardHookGuard&) = delete;

 private:
  ForwardHook prev_;
};

// Sequential: children named "0", "1", ... (their index) unless given a name;
// forward chains them. The fusion pass (layers/fusion.h) may mark runs of children
// that execute as one call (a Step); forward then takes the step instead of the
// children one by one.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> mods);
  void push_back(ModulePtr m);  // named by its index
  void push_back(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override { return run(x, 0, size()); }
  std::string type_name() const override { return "Sequential"; }
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override {
    return to_onnx(g, prefix, x, 0, size());
  }
  // The ONNX nodes of children [begin, end) (a residual's body splits at its branch point).
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, std::string x, size_t begin, size_t end);
  FusionRole fusion_role() const override { return FusionRole::Sequential; }
  size_t size() const { return children().size(); }
  ModulePtr at(size_t i) const { return children()[i].second; }

  // Children [begin, end) in order, taking the steps that start in the range.
  Tensor run(const Tensor& x, size_t begin, size_t end);
  // Children [first, first + span) run as one call of `call` (which runs their hooks).
  struct Step {
    size_t span;
    std::function<Tensor(const Tensor&)> call;
  };
  void set_step(size_t first, Step step);
  // Children [first, first + span) become m, named as the first (BatchNorm folding,
  // layers/fusion.h); the steps are cleared, for the fusion pass to mark anew.
  void replace(size_t first, size_t span, ModulePtr m);
  const std::map<size_t, Step>& steps() const { return steps_; }

 private:
  std::map<size_t, Step> steps_;
};

}  // namespace nf
