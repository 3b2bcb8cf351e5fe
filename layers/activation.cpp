#include "layers/activation.h"

#include "framework/ops/eltwise.h"
#include "layers/onnx_graph.h"

namespace nf {

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }

std::string ReLU::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) { return g.node("Relu", {x}, p); }

namespace {

ModulePtr make_relu(const LayerSpec&, const Shape& in, Shape& out) {
  out = in;
  return std::make_shared<ReLU>();
}

}  // namespace

LayerType relu_layer_type() { return {{}, make_relu}; }

}  // namespace nf
