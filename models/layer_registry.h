// A recipe's model.layers turned into modules: each entry built by its type's factory
// in the layer registry (layers/registry.h), `residual` entries as Residual modules of
// their body and shortcut lists (`repeat` is written out by the recipe reader).
// Shapes here are per sample (no batch dimension): [C, H, W] or [F].
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layers/batch_norm.h"
#include "layers/layer_spec.h"
#include "layers/module.h"

namespace nf {

// Every name an entry of model.layers may have (the registry's types, residual, repeat).
std::vector<std::string> layer_names();

// The arguments of a registry layer, with batch_norm's momentum/eps/sync defaults taken
// from `bn` (model.bn); nullopt for a name that is not in the registry.
std::optional<std::vector<ArgSpec>> layer_arguments(const std::string& type, const BatchNormOptions& bn);

// Builds the listed network for inputs [N, shape...] as an nn.Sequential with
// PyTorch's names (index, or the entry's name; residuals "K.body.J", "K.shortcut.J");
// `shape` becomes the output's. A layer that cannot take its input is an nf::Error
// "WHERE: problem, with the shapes".
std::shared_ptr<Sequential> build_layers(const std::vector<LayerSpec>& layers, Shape& shape);

}  // namespace nf
