// Pooling layers over [N,C,H,W] (framework/ops/pool.h has the math and the shape rules).
//   MaxPool2d(kernel, stride = -1 meaning stride = kernel, padding = 0)
//   AvgPool2d(kernel, stride = -1 meaning stride = kernel, padding = 0)   count_include_pad=True
//     both a Pool2d: a square window sliding over the image, max or average
//   AdaptiveAvgPool2d(out_h, out_w)   -> [N,C,out_h,out_w]; (1, 1) is the global average pool
// Printed as PyTorch prints them. ONNX: MaxPool; [Pad (zeros),] AveragePool (PyTorch's
// count_include_pad=True, which OpenCV 4.6's AveragePool ignores, so the padding is an
// explicit zero Pad); GlobalAveragePool (1x1) or AveragePool (sizes that divide).
#pragma once
#include "layers/registry.h"

namespace nf {

class Pool2d : public Module {
 public:
  enum class Kind { Max, Avg };
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;
  int64_t kernel() const { return kernel_; }
  int64_t stride() const { return stride_; }
  int64_t padding() const { return padding_; }

 protected:
  Pool2d(Kind kind, int64_t kernel, int64_t stride, int64_t padding);

 private:
  Kind kind_;
  int64_t kernel_, stride_, padding_;
};

class MaxPool2d : public Pool2d {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = -1, int64_t padding = 0)
      : Pool2d(Kind::Max, kernel, stride, padding) {}
  std::string type_name() const override { return "MaxPool2d"; }
};

class AvgPool2d : public Pool2d {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = -1, int64_t padding = 0)
      : Pool2d(Kind::Avg, kernel, stride, padding) {}
  std::string type_name() const override { return "AvgPool2d"; }
};

class AdaptiveAvgPool2d : public Module {
 public:
  AdaptiveAvgPool2d(int64_t out_h, int64_t out_w);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;
  int64_t out_h() const { return out_h_; }
  int64_t out_w() const { return out_w_; }

 private:
  int64_t out_h_, out_w_;
};

// The registry entries "max_pool" and "avg_pool" (kernel, stride: null = kernel,
// padding) and "global_avg_pool" (no arguments: AdaptiveAvgPool2d(1, 1)).
LayerType max_pool_layer_type();
LayerType avg_pool_layer_type();
LayerType global_avg_pool_layer_type();

}  // namespace nf
