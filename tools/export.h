// `normforge export`: a trained checkpoint taken out of normforge for deployment.
//   --format onnx         one .onnx file (tools/onnx_export.h), BatchNorms folded unless --keep-bn
//   --format safetensors  a folder: model.safetensors with every foldable BatchNorm folded
//                         into its convolution (layers/fusion.h: fold_batch_norms) and
//                         config.yaml, the recipe with model.folded: true, which
//                         `normforge eval/predict/bench` run directly
// The output must not exist; it appears complete or not at all.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/recipe.h"

namespace nf {

struct ExportOptions {
  std::string format;            // onnx | safetensors (checked here: a bad one is an nf::Error)
  bool keep_bn = false;          // onnx: every BatchNorm a BatchNormalization node
  std::optional<int64_t> batch;  // onnx: a fixed batch size; nullopt: dynamic
  std::string out;
};

void run_export(const Recipe& r, const std::string& checkpoint, const ExportOptions& o);

// The ONNX metadata_props of an export of r: what a deployer must feed, as JSON
// ("normforge.mean", "normforge.std": the test-time normalize, [] without one;
// "normforge.classes": the class names), and how it was made.
std::vector<std::pair<std::string, std::string>> deploy_metadata(const Recipe& r, bool folded);
// Its first two entries alone ("normforge.mean", "normforge.std"), without opening the data.
std::vector<std::pair<std::string, std::string>> deploy_normalization(const Recipe& r);

}  // namespace nf
