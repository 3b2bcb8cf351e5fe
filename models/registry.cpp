#include "models/registry.h"

#include <functional>
#include <map>

#include "layers/fusion.h"
#include "models/layer_registry.h"
#include "models/resnet.h"

namespace nf {

namespace {
const std::map<std::string, std::function<ModulePtr(const ModelSpec&)>>& registry() {
  static const std::map<std::string, std::function<ModulePtr(const ModelSpec&)>> r = {
      {"resnet8", build_cifar_resnet},   {"resnet14", build_cifar_resnet},
      {"resnet20", build_cifar_resnet},  {"resnet32", build_cifar_resnet},
      {"resnet44", build_cifar_resnet},  {"resnet56", build_cifar_resnet},
      {"resnet110", build_cifar_resnet}, {"resnet18", build_resnet18},
      {"resnet34", build_resnet34},      {"preact_resnet18", build_preact_resnet18},
      {"wrn16_4", build_wide_resnet},    {"wrn28_10", build_wide_resnet},
  };
  return r;
}

// The fusion pass, after folding the BatchNorms away for a folded model (an export's).
ModulePtr fused(ModulePtr model, const ModelSpec& spec) {
  if (spec.folded)
    fold_batch_norms(*model);
  else
    fuse_model(*model);
  return model;
}

// model.layers: the list as an nn.Sequential, checked to end in [N, num_classes], fused.
ModulePtr build_listed_model(const ModelSpec& spec) {
  Shape out{spec.in_channels, spec.input_size, spec.input_size};
  std::shared_ptr<Sequential> net = build_layers(spec.layers, out);
  NF_CHECK(out == Shape{spec.num_classes}, spec.layers.back().where + ": the network ends in [N, " +
                                                shape_str(out).substr(1) + ", but the loss needs the " +
                                                std::to_string(spec.num_classes) + " class scores (model.num_classes)");
  return fused(net, spec);
}
}  // namespace

ModulePtr build_model(const ModelSpec& spec) {
  if (!spec.layers.empty()) return build_listed_model(spec);
  auto it = registry().find(spec.name);
  if (it == registry().end()) {
    std::string known;
    for (auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + spec.name + "' (known: " + known + ")");
  }
  NF_CHECK(spec.num_classes >= 1, "model.num_classes must be >= 1, got " + std::to_string(spec.num_classes));
  NF_CHECK(spec.in_channels >= 1, "model.in_channels must be >= 1, got " + std::to_string(spec.in_channels));
  return fused(it->second(spec), spec);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (auto& [n, b] : registry()) names.push_back(n);
  return names;
}

}  // namespace nf
