// ONNX export of a built model (`normforge export --format onnx`), through the ONNX
// library's own protobuf types (Debian's libonnx-dev), opset 13, and the ONNX file
// reader `predict --onnx` uses to check a file is a normforge export.
//
// The graph: input "input" [N, C, H, W] (N fixed, or the symbolic "N"), output "logits"
// [N, classes]; initializers keep the model's state_dict names ("layer1.0.conv1.weight").
// Each layer maps to ONNX operators as inference engines run it:
//   Conv2d -> Conv; BatchNorm1d/2d -> BatchNormalization (inference form: running
//   statistics); ReLU -> Relu; Dropout -> nothing (identity in inference);
//   MaxPool2d -> MaxPool; AvgPool2d -> [Pad (zeros),] AveragePool (PyTorch's
//   count_include_pad=True, which OpenCV 4.6's AveragePool ignores);
//   AdaptiveAvgPool2d -> GlobalAveragePool (1x1) or AveragePool (sizes that divide);
//   Flatten -> Flatten(axis=1); Linear -> Gemm(transB=1);
//   Residual -> its body, its shortcut, Add [, Relu];
//   PadShortcut (option A) -> a 1x1 Conv of stride s whose weight is the 0/1 matrix
//     placing input channel c at output channel c + (out - in)/2 (exact: each output is
//     one input times 1, or 0);
//   GroupNorm(G, C) / LayerNorm(F) -> Reshape [N, G, -1], InstanceNormalization (scale 1,
//     bias 0), Reshape back, Mul weight, Add bias (OpenCV 4.6 imports neither
//     GroupNormalization nor LayerNormalization).
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
