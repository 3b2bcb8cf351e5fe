#include "layers/group_norm.h"

#include "framework/ops/group_norm.h"
#include "layers/onnx_graph.h"

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

std::string GroupNorm::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  return onnx_group_norm(g, *this, groups_, p, x);
}

LayerNorm::LayerNorm(int64_t features, double eps) : Norm("LayerNorm", features, eps, true) {}

Tensor LayerNorm::forward(const Tensor& x) { return ops::layer_norm(x, weight_, bias_, eps_); }

std::string LayerNorm::extra_repr() const {
  return "(" + std::to_string(num_features_) + ",), eps=" + py_float(eps_) + ", elementwise_affine=True";
}

std::string LayerNorm::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  return onnx_group_norm(g, *this, 1, p, x);
}

namespace {

ModulePtr make_group_norm(const LayerSpec& l, const Shape& in, Shape& out) {
  if (in.size() != 3 && in.size() != 1) layer_error(l, "takes [N, C, H, W] or [N, C], got " + per_sample(in));
  const int64_t g = l.i("groups");
  if (in[0] % g)
    layer_error(l, std::to_string(g) + " groups do not divide the " + std::to_string(in[0]) + " channels of " +
                       per_sample(in));
  out = in;
  return std::make_shared<GroupNorm>(g, in[0], l.f("eps"), l.b("affine"));
}

ModulePtr make_layer_norm(const LayerSpec& l, const Shape& in, Shape& out) {
  out = in;
  if (in.size() == 3) return std::make_shared<GroupNorm>(1, in[0], l.f("eps"));
  if (in.size() == 1) return std::make_shared<LayerNorm>(in[0], l.f("eps"));
  layer_error(l, "takes [N, C, H, W] or [N, F], got " + per_sample(in));
}

}  // namespace

LayerType group_norm_layer_type() {
  return {{{"groups", ArgSpec::Int, std::nullopt, 1, layer_args::kBig}, layer_args::eps, layer_args::affine},
          make_group_norm};
}

LayerType layer_norm_layer_type() { return {{layer_args::eps}, make_layer_norm}; }

}  // namespace nf
