// The non-training subcommands of `normforge` (train lives in trainer.h).
#pragma once
#include <string>
#include <vector>

#include "tools/recipe.h"

namespace nf {

void run_eval(const Recipe& r, const std::string& checkpoint, const std::string& split, bool json);
void run_predict(const Recipe& r, const std::string& checkpoint, const std::vector<std::string>& images, int64_t topk);
void run_summary(const Recipe& r);

// [C, H, W] the recipe's model takes (from the dataset kind and model.in_channels).
Shape recipe_input_shape(const Recipe& r);

}  // namespace nf
