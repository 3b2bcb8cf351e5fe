#include "layers/conv2d.h"

#include <cmath>

#include "layers/init.h"
#include "layers/onnx_graph.h"

namespace nf {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv2dOptions opts)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size), options_(opts) {
  NF_CHECK(in_channels > 0 && out_channels > 0 && kernel_size > 0 && opts.groups > 0 &&
               in_channels % opts.groups == 0 && out_channels % opts.groups == 0,
           "Conv2d: need positive sizes with channels divisible by groups, got in_channels=" +
               std::to_string(in_channels) + " out_channels=" + std::to_string(out_channels) +
               " kernel_size=" + std::to_string(kernel_size) + " groups=" + std::to_string(opts.groups));
  const int64_t fan_in = in_channels / opts.groups * kernel_size * kernel_size;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weight_ = register_parameter("weight",
                               uniform_init({out_channels, in_channels / opts.groups, kernel_size, kernel_size}, bound));
  if (opts.bias) bias_ = register_parameter("bias", uniform_init({out_channels}, bound));
}

ops::Conv2dParams Conv2d::params() const {
  const Conv2dOptions& o = options_;
  return {o.stride, o.stride, o.padding, o.padding, o.dilation, o.dilation, o.groups};
}

Tensor Conv2d::forward(const Tensor& x) { return ops::conv2d(x, weight_, bias_, params()); }

std::string Conv2d::extra_repr() const {
  auto pair = [](int64_t v) { return "(" + std::to_string(v) + ", " + std::to_string(v) + ")"; };
  std::string s = std::to_string(in_channels_) + ", " + std::to_string(out_channels_) +
                  ", kernel_size=" + pair(kernel_size_) + ", stride=" + pair(options_.stride);
  if (options_.padding != 0) s += ", padding=" + pair(options_.padding);
  if (options_.dilation != 1) s += ", dilation=" + pair(options_.dilation);
  if (options_.groups != 1) s += ", groups=" + std::to_string(options_.groups);
  if (!options_.bias) s += ", bias=False";
  return s;
}

int64_t Conv2d::macs(const Shape&, const Shape& out) const {
  return shape_numel(out) * (in_channels_ / options_.groups) * kernel_size_ * kernel_size_;
}

std::string Conv2d::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  std::vector<std::string> in{x, g.initializer(onnx_name(p, "weight"), weight_)};
  if (bias_.defined()) in.push_back(g.initializer(onnx_name(p, "bias"), bias_));
  const Conv2dOptions& o = options_;
  const int64_t k = kernel_size_;
  return g.node("Conv", in, p,
                {{"kernel_shape", std::vector<int64_t>{k, k}},
                 {"strides", std::vector<int64_t>{o.stride, o.stride}},
                 {"pads", std::vector<int64_t>{o.padding, o.padding, o.padding, o.padding}},
                 {"dilations", std::vector<int64_t>{o.dilation, o.dilation}},
                 {"group", o.groups}});
}

namespace {

ModulePtr make_conv(const LayerSpec& l, const Shape& in, Shape& out) {
  need_image(l, in);
  const int64_t o = l.i("out"), k = l.i("kernel"), s = l.i("stride"), p = l.i("padding"), d = l.i("dilation"),
                g = l.i("groups");
  if (in[0] % g || o % g)
    layer_error(l, "groups " + std::to_string(g) + " must divide both the input channels of " + per_sample(in) +
                       " and out " + std::to_string(o));
  const int64_t extent = d * (k - 1) + 1, oh = window_out(l, in, extent, s, p);
  out = {o, oh, (in[2] + 2 * p - extent) / s + 1};
  return std::make_shared<Conv2d>(in[0], o, k, Conv2dOptions{s, p, d, g, l.b("bias")});
}

}  // namespace

LayerType conv_layer_type() {
  using A = ArgSpec;
  return {{layer_args::out, layer_args::kernel, {"stride", A::Int, 1.0, 1, 1024}, {"padding", A::Int, 0.0, 0, 1024},
           {"dilation", A::Int, 1.0, 1, 1024}, {"groups", A::Int, 1.0, 1, layer_args::kBig}, layer_args::bias},
          make_conv};
}

}  // namespace nf
