// The non-training subcommands of `normforge` (train lives in trainer.h).
#pragma once
#include <string>
#include <vector>

#include "tools/recipe.h"

namespace nf {

// logits_path: also write every sample's logits there as a float32 .npy [samples, classes].
void run_eval(const Recipe& r, const std::string& checkpoint, const std::string& split, bool json,
              const std::string& logits_path = "");
// What predict runs: a checkpoint (folder or model.safetensors), or an ONNX file made by
// `normforge export`, run through OpenCV's dnn module. Exactly one is set.
struct PredictSource {
  std::string checkpoint, onnx;
};
void run_predict(const Recipe& r, const PredictSource& source, const std::vector<std::string>& images, int64_t topk);
void run_summary(const Recipe& r);
// Recomputes every BatchNorm's running statistics over `batches` batches of the
// recipe's training data (0: one epoch; cumulative average, weights fixed, the recipe's
// augmentation: torch.optim.swa_utils.update_bn) and writes a checkpoint folder `out`
// (which must not exist): the new model.safetensors, the source's trainer state when it
// is a checkpoint folder, the recipe as config.yaml.
void run_recalibrate_bn(const Recipe& r, const std::string& checkpoint, int64_t batches, const std::string& out);

// `normforge verify PATH`: every checkpoint folder at PATH (a checkpoint folder, or a
// run's out_dir: final/, checkpoints/*) checked against its manifest; one line each.
// Returns the exit code: 0 all verified, 1 any folder bad (or none found), 2 some
// written without a manifest (unverified) and none bad.
int run_verify(const std::string& path);

// [C, H, W] the recipe's model takes (from the dataset kind and model.in_channels).
Shape recipe_input_shape(const Recipe& r);

}  // namespace nf
