// ReLU layer: y = max(x, 0), any shape (ops::relu).
#pragma once
#include "layers/registry.h"

namespace nf {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;  // Relu
  FusionRole fusion_role() const override { return FusionRole::Relu; }
};

// The registry entry "relu" (no arguments).
LayerType relu_layer_type();

}  // namespace nf
