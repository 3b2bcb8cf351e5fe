#include "layers/group_norm.h"

#include "framework/ops/group_norm.h"

namespace nf {

GroupNorm::GroupNorm(int64_t groups, int64_t num_channels, double eps, bool affine)
    : Norm("GroupNorm", num_channels, eps, affine), groups_(groups) {
  NF_CHECK(groups >= 1 && num_channels % groups == 0, "GroupNorm: " + std::to_string(groups) +
                                                          " groups do not divide " + std::to_string(num_channels) +
                                                          " channels");
}

Tensor GroupNorm::forward(const Tensor& x) { return ops::group_norm(x, groups_, weight_, bias_, eps_); }

std::string GroupNorm::extra_repr() const {
  return std::to_string(groups_) + ", " + std::to_string(num_features_) + ", eps=" + py_float(eps_) +
         ", affine=" + py_bool(weight_.defined());
}

LayerNorm::LayerNorm(int64_t features, double eps) : Norm("LayerNorm", features, eps, true) {}

Tensor LayerNorm::forward(const Tensor& x) { return ops::layer_norm(x, weight_, bias_, eps_); }

std::string LayerNorm::extra_repr() const {
  return "(" + std::to_string(num_features_) + ",), eps=" + py_float(eps_) + ", elementwise_affine=True";
}

}  // namespace nf
