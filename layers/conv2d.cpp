#include "layers/conv2d.h"

#include <cmath>

#include "layers/init.h"

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

}  // namespace nf
