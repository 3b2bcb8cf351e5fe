// Reading a recipe's model.layers into LayerSpecs (layers/layer_spec.h): each entry is
// a bare layer name or a one-key map {name: {args}}, with an optional `name: NAME`
// beside it; arguments are checked against the layer registry's schema (types, ranges,
// defaults, "did you mean" for unknown layers and keys); `repeat` is written out in
// place; `classes` as an `out` means model.num_classes. Errors: "FILE:LINE:COL: ...".
#pragma once
#include <vector>

#include "models/model_spec.h"
#include "tools/recipe/yaml_section.h"

namespace nf {

// model.layers of the `model` section; spec gives num_classes and the BatchNorm defaults.
std::vector<LayerSpec> parse_layers(YamlSection& model, const ModelSpec& spec);

}  // namespace nf
