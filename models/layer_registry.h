// The layer registry: each name a recipe's model.layers may use -> its argument schema
// and a factory that builds the module for a given input shape and infers the output
// shape (as Caffe's layer registry; a listed network is data). `residual` and `repeat`
// are structure, handled by the recipe reader and build_layers.
// Shapes here are per sample (no batch dimension): [C, H, W] or [F].
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layers/batch_norm.h"
#include "layers/module.h"
#include "models/layer_spec.h"

namespace nf {

// Every name an entry of model.layers may have (registry names, residual, repeat).
std::vector<std::string> layer_names();

// The arguments of a registry layer, with batch_norm's momentum/eps defaults taken from
// `bn` (model.bn); nullopt for a name that is not in the registry.
std::optional<std::vector<ArgSpec>> layer_arguments(const std::string& type, const BatchNormOptions& bn);

// Builds the listed network for inputs [N, shape...] as an nn.Sequential with
// PyTorch's names (index, or the entry's name; residuals "K.body.J", "K.shortcut.J");
// `shape` becomes the output's. A layer that cannot take its input is an nf::Error
// "WHERE: problem, with the shapes".
std::shared_ptr<Sequential> build_layers(const std::vector<LayerSpec>& layers, Shape& shape);

}  // namespace nf
