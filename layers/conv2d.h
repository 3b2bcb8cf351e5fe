// Conv2d, as torch.nn.Conv2d with a square kernel and symmetric stride/padding/dilation:
// x [N, in_channels, H, W] -> [N, out_channels, OH, OW]. Parameters "weight"
// [out_channels, in_channels/groups, k, k] and "bias" [out_channels] (if bias), both
// drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups*k*k, with
// nf::default_generator() (PyTorch's default). The math is ops::conv2d.
#pragma once
#include "framework/ops/conv.h"
#include "layers/registry.h"

namespace nf {

struct Conv2dOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv2dOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  // "3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False"
  std::string extra_repr() const override;
  int64_t macs(const Shape& in, const Shape& out) const override;  // out's elements x in/groups x k x k
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;  // Conv
  FusionRole fusion_role() const override { return FusionRole::Conv; }

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  int64_t kernel_size() const { return kernel_size_; }
  const Conv2dOptions& options() const { return options_; }
  ops::Conv2dParams params() const;  // the options as ops::conv2d takes them
  Tensor& weight() { return weight_; }
  Tensor& bias() { return bias_; }  // undefined without bias

 private:
  int64_t in_channels_, out_channels_, kernel_size_;
  Conv2dOptions options_;
  Tensor weight_, bias_;
};

// The registry entry "conv" (Conv2d): out, kernel, stride, padding, dilation, groups, bias.
LayerType conv_layer_type();

}  // namespace nf
