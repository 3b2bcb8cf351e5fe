#include "layers/flatten.h"

#include "framework/ops/shape.h"
#include "layers/onnx_graph.h"

namespace nf {

Tensor Flatten::forward(const Tensor& x) { return ops::flatten(x, start_dim_); }

std::string Flatten::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  NF_CHECK(start_dim_ == 1, "export: " + p + ": Flatten(start_dim=" + std::to_string(start_dim_) +
                                ") has no ONNX form here (only start_dim=1)");
  return g.node("Flatten", {x}, p, {{"axis", int64_t{1}}});
}

namespace {

ModulePtr make_flatten(const LayerSpec&, const Shape& in, Shape& out) {
  out = {shape_numel(in)};
  return std::make_shared<Flatten>(1);
}

}  // namespace

LayerType flatten_layer_type() { return {{}, make_flatten}; }

}  // namespace nf
