// build_layers (see layer_registry.h): the list's structure (names, residuals); each
// layer comes from its registry entry (layers/registry.h).
#include "models/layer_registry.h"

#include "layers/registry.h"
#include "layers/residual.h"

namespace nf {

namespace {

ModulePtr build_layer(const LayerSpec& l, Shape& shape);

// The list as a Sequential; `shape` goes from the list's input to its output.
std::shared_ptr<Sequential> build_list(const std::vector<LayerSpec>& layers, Shape& shape) {
  auto seq = std::make_shared<Sequential>();
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const std::string name = l.name.empty() ? std::to_string(i) : l.name;
    for (const auto& [n, c] : seq->children())
      if (n == name) layer_error(l, "the name '" + name + "' is already taken in this list");
    seq->push_back(name, build_layer(l, shape));
  }
  return seq;
}

ModulePtr build_layer(const LayerSpec& l, Shape& shape) {
  if (l.type == "residual") {
    Shape body_shape = shape, shortcut_shape = shape;
    auto body = build_list(l.body, body_shape);
    auto shortcut = build_list(l.shortcut, shortcut_shape);
    if (body_shape != shortcut_shape)
      layer_error(l, "its body gives " + per_sample(body_shape) + " but its shortcut gives " +
                         per_sample(shortcut_shape) +
                         (l.shortcut.empty() ? " (the identity; give it a shortcut that changes the shape)" : ""));
    shape = body_shape;
    return std::make_shared<Residual>(body, shortcut);
  }
  Shape out;
  ModulePtr m = find_layer_type(l.type)->build(l, shape, out);
  shape = out;
  return m;
}

}  // namespace

std::vector<std::string> layer_names() {
  std::vector<std::string> names = layer_type_names();
  names.push_back("residual");
  names.push_back("repeat");
  return names;
}

std::optional<std::vector<ArgSpec>> layer_arguments(const std::string& type, const BatchNormOptions& bn) {
  const LayerType* t = find_layer_type(type);
  if (!t) return std::nullopt;
  std::vector<ArgSpec> args = t->args;
  if (type == "batch_norm")
    for (ArgSpec& a : args) {
      if (a.key == "momentum") a.def = bn.momentum;
      if (a.key == "eps") a.def = bn.eps;
      if (a.key == "sync") a.def = bn.sync ? 1.0 : 0.0;
    }
  return args;
}

std::shared_ptr<Sequential> build_layers(const std::vector<LayerSpec>& layers, Shape& shape) {
  return build_list(layers, shape);
}

}  // namespace nf
