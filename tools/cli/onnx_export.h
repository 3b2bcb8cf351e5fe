// ONNX export of a built model (`normforge export --format onnx`), through the ONNX
// library's own protobuf types (Debian's libonnx-dev), opset 13, and the ONNX file
// reader `predict --onnx` uses to check a file is a normforge export.
//
// The graph: input "input" [N, C, H, W] (N fixed, or the symbolic "N"), output "logits"
// [N, classes]; initializers keep the model's state_dict names ("layer1.0.conv1.weight").
// Each layer writes its own nodes (Module::to_onnx, through layers/onnx_graph.h's
// OnnxGraph, which GraphWriter implements here): this file knows no layer type.
// BatchNorm folding is the caller's: export a model after fold_batch_norms (layers/fusion.h)
// and the folded convolutions carry the BatchNorms. A layer with no ONNX form (a
// BatchNorm without running statistics) is an nf::Error naming it.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "layers/module.h"

namespace nf {

struct OnnxExportOptions {
  std::optional<int64_t> batch;  // nullopt: a dynamic batch dimension "N"
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props
};

// Writes `model` (run in eval mode on one [1, chw] input to learn each layer's shape)
// to `path`: the model passes onnx::checker::check_model and strict shape inference
// (the inferred output must agree with [N, classes]) before anything is written; the
// file appears whole (io::write_file_atomic) or not at all.
void export_onnx(Module& model, const Shape& chw, const OnnxExportOptions& options, const std::string& path);

// An ONNX file's metadata_props; nf::Error when the file is not an ONNX model.
std::map<std::string, std::string> onnx_metadata(const std::string& path);

}  // namespace nf
