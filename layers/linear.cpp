#include "layers/linear.h"

#include <cmath>

#include "layers/init.h"
#include "framework/ops/linear.h"

namespace nf {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : in_features_(in_features), out_features_(out_features) {
  NF_CHECK(in_features > 0 && out_features > 0, "Linear: features must be positive, got in_features=" +
                                                    std::to_string(in_features) +
                                                    " out_features=" + std::to_string(out_features));
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = register_parameter("weight", uniform_init({out_features, in_features}, bound));
  if (bias) bias_ = register_parameter("bias", uniform_init({out_features}, bound));
}

Tensor Linear::forward(const Tensor& x) { return ops::linear(x, weight_, bias_); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features_) + ", out_features=" + std::to_string(out_features_) +
         ", bias=" + (bias_.defined() ? "True" : "False");
}

}  // namespace nf
