// What an export tells a deployer (the ONNX file's metadata_props), shared by `export`
// and `predict --onnx`, which checks a file against the recipe with it.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tools/recipe/recipe.h"

namespace nf {

// The ONNX metadata_props of an export of r: what a deployer must feed, as JSON
// ("normforge.mean", "normforge.std": the test-time normalize, [] without one;
// "normforge.classes": the class names), and how it was made.
std::vector<std::pair<std::string, std::string>> deploy_metadata(const Recipe& r, bool folded);
// Its first two entries alone ("normforge.mean", "normforge.std"), without opening the data.
std::vector<std::pair<std::string, std::string>> deploy_normalization(const Recipe& r);

}  // namespace nf
