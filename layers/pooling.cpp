#include "layers/pooling.h"

#include "framework/ops/pool.h"

namespace nf {

namespace {
std::string window_repr(int64_t kernel, int64_t stride, int64_t padding) {
  return "kernel_size=" + std::to_string(kernel) + ", stride=" + std::to_string(stride) +
         ", padding=" + std::to_string(padding);
}
}  // namespace

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding)
    : kernel_(kernel), stride_(stride == -1 ? kernel : stride), padding_(padding) {}

Tensor MaxPool2d::forward(const Tensor& x) { return ops::max_pool2d(x, kernel_, stride_, padding_); }

std::string MaxPool2d::extra_repr() const {
  return window_repr(kernel_, stride_, padding_) + ", dilation=1, ceil_mode=False";
}

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding)
    : kernel_(kernel), stride_(stride == -1 ? kernel : stride), padding_(padding) {}

Tensor AvgPool2d::forward(const Tensor& x) { return ops::avg_pool2d(x, kernel_, stride_, padding_); }

std::string AvgPool2d::extra_repr() const { return window_repr(kernel_, stride_, padding_); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) : out_h_(out_h), out_w_(out_w) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return ops::adaptive_avg_pool2d(x, out_h_, out_w_); }

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=(" + std::to_string(out_h_) + ", " + std::to_string(out_w_) + ")";
}

}  // namespace nf
