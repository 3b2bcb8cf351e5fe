#include "layers/linear.h"

#include <cmath>

#include "layers/init.h"
#include "layers/onnx_graph.h"
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

int64_t Linear::macs(const Shape&, const Shape& out) const { return shape_numel(out) * in_features_; }

std::string Linear::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  const std::string b = bias_.defined() ? g.initializer(onnx_name(p, "bias"), bias_)
                                        : g.initializer(onnx_name(p, "bias"), {out_features_},
                                                        std::vector<float>(out_features_, 0.f));
  return g.node("Gemm", {x, g.initializer(onnx_name(p, "weight"), weight_), b}, p, {{"transB", int64_t{1}}});
}

std::string last_linear_name(const Module& model) {
  std::string last;
  for (auto& [name, m] : model.named_modules())
    if (dynamic_cast<const Linear*>(m.get())) last = name;
  return last;
}

namespace {

ModulePtr make_linear(const LayerSpec& l, const Shape& in, Shape& out) {
  if (in.size() != 1)
    layer_error(l, "takes [N, F], got " + per_sample(in) + " (put flatten or global_avg_pool before it)");
  out = {l.i("out")};
  return std::make_shared<Linear>(in[0], l.i("out"), l.b("bias"));
}

}  // namespace

LayerType linear_layer_type() { return {{layer_args::out, layer_args::bias}, make_linear}; }

}  // namespace nf
