// Model registry: recipe name -> builder, like Caffe's layer registry.
#pragma once
#include <string>
#include <vector>

#include "layers/module.h"
#include "models/model_spec.h"

namespace nf {

ModulePtr build_model(const ModelSpec& spec);  // nf::Error naming the known models on a bad name
std::vector<std::string> model_names();

}  // namespace nf
