// Building the recipe's model and applying what the recipe says about weights:
// model.init (with finetune.reset_head), finetune.freeze, finetune.bn modes
//   trainable     BN in train mode: batch statistics, running stats update, gamma/beta learn
//   frozen        BN in eval mode, gamma/beta frozen: nothing about BN changes
//   frozen_stats  BN in eval mode (running stats used and kept), gamma/beta learn
// and finetune.recalibrate_bn_batches. Nothing here touches process-wide settings or
// decides where the recipe runs (tools/train/runtime.h does both).
#pragma once
#include <string>

#include "data/loader.h"
#include "layers/module.h"
#include "tools/recipe/recipe.h"
#include "tools/train/runtime.h"

namespace nf {

// Builds the model (PyTorch init from the default generator, which configure_runtime
// seeded, on the CPU, so every device starts from the same weights), loads model.init
// when `load_init`, applies freezing, and moves the model to `where`'s device.
// Throws nf::Error.
ModulePtr build_recipe_model(const Recipe& r, const Placement& where, bool load_init = true);

// Loads weights (checkpoint folder or model.safetensors) strictly, with an error
// naming the path on mismatch.
void load_weights(Module& model, const std::string& path);

// model.train() plus the finetune.bn mode (BN layers to eval for frozen modes).
void set_training_mode(Module& model, BnMode bn_mode);

// Recomputes BN running statistics over `batches` batches of the loader with weights
// fixed (cumulative average, as a momentum of None does in PyTorch); leaves the model
// in train mode. Batches go where `where` says (the model must already be there).
// Returns how many batches it used (fewer than asked when the loader runs out).
int64_t recalibrate_bn(Module& model, data::DataLoader& loader, int64_t batches, const Placement& where);

}  // namespace nf
