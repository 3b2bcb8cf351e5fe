// Pool2d (max, average), AdaptiveAvgPool2d and their registry entries (see pooling.h).
#include "layers/pooling.h"

#include "framework/ops/pool.h"
#include "layers/onnx_graph.h"

namespace nf {

namespace {

// Square windows (the pooling layers' and adaptive pooling's when the sizes divide).
// Average pooling counts the zero padding (PyTorch's count_include_pad=True), written
// as an explicit zero Pad then an unpadded AveragePool: OpenCV 4.6 ignores
// count_include_pad (it divides border windows by their in-image count).
std::string onnx_pool(OnnxGraph& g, Pool2d::Kind kind, int64_t kernel, int64_t stride, int64_t padding,
                      const std::string& p, std::string x) {
  if (kind == Pool2d::Kind::Avg && padding > 0) {
    x = g.node("Pad", {x, g.initializer_i64(onnx_name(p, "pads"), {0, 0, padding, padding, 0, 0, padding, padding})},
               onnx_name(p, "padded"));
    padding = 0;
  }
  return g.node(kind == Pool2d::Kind::Max ? "MaxPool" : "AveragePool", {x}, p,
                {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
                 {"strides", std::vector<int64_t>{stride, stride}},
                 {"pads", std::vector<int64_t>{padding, padding, padding, padding}}});
}

}  // namespace

Pool2d::Pool2d(Kind kind, int64_t kernel, int64_t stride, int64_t padding)
    : kind_(kind), kernel_(kernel), stride_(stride == -1 ? kernel : stride), padding_(padding) {}

Tensor Pool2d::forward(const Tensor& x) {
  return kind_ == Kind::Max ? ops::max_pool2d(x, kernel_, stride_, padding_)
                            : ops::avg_pool2d(x, kernel_, stride_, padding_);
}

std::string Pool2d::extra_repr() const {
  const std::string s = "kernel_size=" + std::to_string(kernel_) + ", stride=" + std::to_string(stride_) +
                        ", padding=" + std::to_string(padding_);
  return kind_ == Kind::Max ? s + ", dilation=1, ceil_mode=False" : s;
}

std::string Pool2d::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  return onnx_pool(g, kind_, kernel_, stride_, padding_, p, x);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) : out_h_(out_h), out_w_(out_w) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return ops::adaptive_avg_pool2d(x, out_h_, out_w_); }

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=(" + std::to_string(out_h_) + ", " + std::to_string(out_w_) + ")";
}

std::string AdaptiveAvgPool2d::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  if (out_h_ == 1 && out_w_ == 1) return g.node("GlobalAveragePool", {x}, p);
  const Shape s = g.input_shape(*this, p);
  NF_CHECK(s[1] % out_h_ == 0 && s[2] % out_w_ == 0 && s[1] / out_h_ == s[2] / out_w_,
           "export: " + p + ": AdaptiveAvgPool2d(" + std::to_string(out_h_) + ", " + std::to_string(out_w_) +
               ") of a " + shape_str(s) + " input has windows of uneven or non-square size, which have no ONNX form here");
  const int64_t k = s[1] / out_h_;
  return onnx_pool(g, Pool2d::Kind::Avg, k, k, 0, p, x);
}

namespace {

template <class Pool>
ModulePtr make_pool(const LayerSpec& l, const Shape& in, Shape& out) {
  need_image(l, in);
  const int64_t k = l.i("kernel"), p = l.i("padding");
  const int64_t s = l.opt("stride") ? l.i("stride") : k;
  if (2 * p > k) layer_error(l, "padding " + std::to_string(p) + " is more than half the kernel " + std::to_string(k));
  const int64_t oh = window_out(l, in, k, s, p);
  out = {in[0], oh, (in[2] + 2 * p - k) / s + 1};
  return std::make_shared<Pool>(k, s, p);
}

ModulePtr make_global_avg_pool(const LayerSpec& l, const Shape& in, Shape& out) {
  need_image(l, in);
  out = {in[0], 1, 1};
  return std::make_shared<AdaptiveAvgPool2d>(1, 1);
}

std::vector<ArgSpec> pool_args() {
  return {layer_args::kernel, {"stride", ArgSpec::Int, std::nullopt, 1, 1024, true}, {"padding", ArgSpec::Int, 0.0, 0, 1024}};
}

}  // namespace

LayerType max_pool_layer_type() { return {pool_args(), make_pool<MaxPool2d>}; }
LayerType avg_pool_layer_type() { return {pool_args(), make_pool<AvgPool2d>}; }
LayerType global_avg_pool_layer_type() { return {{}, make_global_avg_pool}; }

}  // namespace nf
