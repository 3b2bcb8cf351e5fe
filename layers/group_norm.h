// GroupNorm and LayerNorm, as torch.nn: parameters "weight" (ones) and "bias" (zeros),
// [C], when affine; no buffers, and the same math in training and evaluation.
//   GroupNorm(groups, C): x [N, C], [N, C, L] or [N, C, H, W], C % groups == 0; each
//     sample's group of C/groups channels is normalized over its values (ops::group_norm).
//     A recipe's layer_norm on [N, C, H, W] is GroupNorm(1, C).
//   LayerNorm(F): x [N, F], each sample normalized over its F features with an
//     elementwise affine (ops::layer_norm).
#pragma once
#include "layers/norm.h"

namespace nf {

class GroupNorm : public Norm {
 public:
  GroupNorm(int64_t groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;  // "2, 16, eps=1e-05, affine=True"
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;  // onnx_group_norm
  int64_t groups() const { return groups_; }

 private:
  int64_t groups_;
};

class LayerNorm : public Norm {
 public:
  explicit LayerNorm(int64_t features, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;  // "(64,), eps=1e-05, elementwise_affine=True"
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;  // onnx_group_norm, 1 group

};

// The registry entries "group_norm" (groups, eps, affine: GroupNorm on [N, C, H, W] or
// [N, C]) and "layer_norm" (eps: GroupNorm(1, C) on [N, C, H, W], LayerNorm on [N, F]).
LayerType group_norm_layer_type();
LayerType layer_norm_layer_type();

}  // namespace nf
