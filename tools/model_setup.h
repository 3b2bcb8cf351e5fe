// Building the recipe's model and applying what the recipe says about weights:
// model.init (with finetune.reset_head), finetune.freeze, and finetune.bn modes
//   trainable     BN in train mode: batch statistics, running stats update, gamma/beta learn
//   frozen        BN in eval mode, gamma/beta frozen: nothing about BN changes
//   frozen_stats  BN in eval mode (running stats used and kept), gamma/beta learn
#pragma once
#include <string>

#include "layers/module.h"
#include "tools/recipe.h"

namespace nf {

// Seeds the default generator with recipe.seed and builds the model (PyTorch init),
// then loads model.init when `load_init` and applies freezing. Throws nf::Error.
ModulePtr build_recipe_model(const Recipe& r, bool load_init = true);

// Loads weights (checkpoint folder or model.safetensors) strictly, with an error
// naming the path on mismatch.
void load_weights(Module& model, const std::string& path);

// model.train() plus the finetune.bn mode (BN layers to eval for frozen modes).
void set_training_mode(Module& model, const std::string& bn_mode);

}  // namespace nf
