// The training loop behind `normforge train`: train mode for steps, eval mode (no
// graph) for evaluation, per-epoch metrics.jsonl, checkpoints that resume exactly,
// fine-tuning modes. Device-agnostic: it only calls Module, ops and the optimizer.
//
// out_dir/metrics.jsonl                one JSON object per epoch
// out_dir/checkpoints/epoch_NNNN/      every checkpoint_every epochs, keep_last kept
// out_dir/checkpoints/best/            best test top-1 so far
// out_dir/final/                       when training ends (also through max_steps)
#pragma once
#include <optional>
#include <string>

#include "data/loader.h"
#include "framework/optim/optimizer.h"
#include "layers/module.h"
#include "tools/model_setup.h"
#include "tools/recipe.h"

namespace nf {

struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;  // mean cross-entropy; accuracies as fractions
  int64_t samples = 0;
};

// Evaluates in eval mode under NoGradGuard; restores the module's previous mode.
// Batches go where `where` says (the model must already be there).
EvalResult evaluate(Module& model, data::DataLoader& loader, const Placement& where = {});

// Opens the recipe's dataset split ("train" | "test") as a loader; train loaders
// shuffle and augment per the recipe, test loaders do neither.
std::unique_ptr<data::DataLoader> make_loader(const Recipe& r, const std::string& split, bool for_training);

// The recipe's optimizer over the model's trainable parameters (two groups when
// optimizer.no_weight_decay exempts some).
std::unique_ptr<optim::Optimizer> make_optimizer(const Recipe& r, Module& model);

// Thrown when the loss stops being finite; main() maps it to exit code 3.
struct DivergedError : Error {
  using Error::Error;
};

// Runs training; resume is a checkpoint folder, "auto" (newest complete checkpoint
// in out_dir, or a fresh start when there is none) or empty.
void train(const Recipe& r, const std::optional<std::string>& resume);

}  // namespace nf
