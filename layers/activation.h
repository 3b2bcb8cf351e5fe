// ReLU layer: y = max(x, 0), any shape (ops::relu).
#pragma once
#include "layers/module.h"

namespace nf {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

}  // namespace nf
