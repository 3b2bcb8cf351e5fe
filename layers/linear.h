// Linear, as torch.nn.Linear: y = x w^T + b for x [N, in_features] -> [N, out_features].
// Parameters "weight" [out_features, in_features] and "bias" [out_features] (if bias),
// both drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)) with nf::default_generator()
// (PyTorch's default: kaiming_uniform with a=sqrt(5)). The math is ops::linear.
#pragma once
#include "layers/registry.h"

namespace nf {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;  // "in_features=64, out_features=10, bias=True"
  int64_t macs(const Shape& in, const Shape& out) const override;  // out's elements x in_features
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;  // Gemm(transB=1)

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }  // undefined without bias

 private:
  int64_t in_features_, out_features_;
  Tensor weight_, bias_;
};

// The state_dict name of the model's last Linear ("fc", "12"); "" when it has none.
std::string last_linear_name(const Module& model);

// The registry entry "linear" (Linear on [N, F]): out, bias.
LayerType linear_layer_type();

}  // namespace nf
