// OnnxGraph: what a layer's Module::to_onnx writes into, the ONNX graph (opset 13)
// under construction, so each layer owns its ONNX form and the exporter
// (tools/cli/onnx_export.cpp, over ONNX's protobuf types) knows no layer type.
// Values are tensors named by strings: the graph's input is "input"; node outputs and
// initializers are named from a hint (the state_dict name, "layer1.0.conv1.weight"),
// made unique by a suffix "_2", "_3", ... when taken.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "framework/core/tensor.h"
#include "layers/module.h"

namespace nf {

// A node attribute: INT, FLOAT (written as float32) or INTS.
struct OnnxAttr {
  std::string name;
  std::variant<int64_t, double, std::vector<int64_t>> value;
};

class OnnxGraph {
 public:
  virtual ~OnnxGraph() = default;
  // Appends node `op` of `inputs` (value names) with the given attributes; the node and
  // its one output are named fresh from `hint`; returns the output's name.
  virtual std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& hint,
                           const std::vector<OnnxAttr>& attrs = {}) = 0;
  // Float initializers: a tensor's values and shape, or given dims and values; an int64
  // vector. Each returns its name.
  virtual std::string initializer(const std::string& hint, const Tensor& t) = 0;
  virtual std::string initializer(const std::string& hint, const Shape& dims, const std::vector<float>& values) = 0;
  virtual std::string initializer_i64(const std::string& hint, const std::vector<int64_t>& values) = 0;
  // The per-sample input shape (no batch dimension) module m saw in the exporter's
  // shape-learning forward pass; `prefix` names m in the error when it was not reached.
  virtual Shape input_shape(const Module& m, const std::string& prefix) const = 0;
};

// "prefix.name", or "name" at the top.
inline std::string onnx_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace nf
