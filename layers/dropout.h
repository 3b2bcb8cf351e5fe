// Dropout layer (ops::dropout): inverted dropout with probability p in training mode,
// identity in eval mode. Masks come from nf::default_generator() unless a Generator is
// given (it must outlive the layer). Printed as PyTorch: "Dropout(p=0.5, inplace=False)".
#pragma once
#include "framework/core/random.h"
#include "layers/registry.h"

namespace nf {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Dropout(double p, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  // Nothing: dropout is the identity in inference.
  std::string to_onnx(OnnxGraph&, const std::string&, const std::string& x) override { return x; }
  double p() const { return p_; }

 private:
  double p_;
  Generator* gen_;
};

// The registry entry "dropout": p.
LayerType dropout_layer_type();

}  // namespace nf
