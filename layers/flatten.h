// Flatten layer (ops::flatten): [d0, ..., d_{s-1}, d_s * ... * d_last], s = start_dim.
// Printed as PyTorch: "Flatten(start_dim=1, end_dim=-1)".
#pragma once
#include "layers/registry.h"

namespace nf {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1) : start_dim_(start_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
  int64_t start_dim() const { return start_dim_; }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_dim_) + ", end_dim=-1";
  }
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;  // Flatten(axis=1)

 private:
  int64_t start_dim_;
};

// The registry entry "flatten" (no arguments): [N, ...] -> [N, F].
LayerType flatten_layer_type();

}  // namespace nf
