// `normforge train`: a run from a recipe, fresh or resumed, in the folder laid out in
// run_dir.h. The steps are in their own files: runtime (process-wide settings),
// run_dir (resume lookup, earlier runs, metrics.jsonl), factories (loader, optimizer,
// schedule), checkpointing (restore, save, prune, best), train_loop (steps,
// divergence, evaluation, the epoch's report).
#pragma once
#include <optional>
#include <string>

#include "tools/recipe/recipe.h"

namespace nf {

// Runs training; resume is a checkpoint folder, "auto" (newest complete checkpoint
// in out_dir, or a fresh start when there is none) or empty. Throws DivergedError
// (tools/train/train_loop.h) when the loss stops being finite.
void train(const Recipe& r, const std::optional<std::string>& resume);

}  // namespace nf
