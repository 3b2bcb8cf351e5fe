#include "layers/conv_bn.h"

#include <cmath>

#include "framework/autograd/autograd.h"

namespace nf {

namespace {

// The folded weight [O, C/g, KH, KW] and bias [O] (see conv_bn.h).
std::pair<Tensor, Tensor> fold(Conv2d& conv, BatchNorm& bn) {
  const Tensor w = conv.weight().contiguous();
  const int64_t O = w.size(0), per_out = w.numel() / O;
  Tensor wf = Tensor::empty(w.shape()), bf = Tensor::empty({O});
  const float* pw = w.data<float>();
  const std::vector<float> conv_b = conv.bias().defined() ? conv.bias().to_vector() : std::vector<float>(O, 0.f);
  const std::vector<float> mean = bn.running_mean().to_vector(), var = bn.running_var().to_vector();
  const std::vector<float> gamma = bn.weight().defined() ? bn.weight().to_vector() : std::vector<float>(O, 1.f);
  const std::vector<float> beta = bn.bias().defined() ? bn.bias().to_vector() : std::vector<float>(O, 0.f);
  for (int64_t o = 0; o < O; ++o) {
    const double s = gamma[o] / std::sqrt(static_cast<double>(var[o]) + bn.options().eps);
    for (int64_t i = 0; i < per_out; ++i) wf.data<float>()[o * per_out + i] = static_cast<float>(pw[o * per_out + i] * s);
    bf.data<float>()[o] = static_cast<float>((static_cast<double>(conv_b[o]) - mean[o]) * s + beta[o]);
  }
  return {wf, bf};
}

}  // namespace

Tensor conv_bn(Conv2d& conv, BatchNorm& bn, const Tensor& x, const Tensor& residual, bool relu) {
  const bool foldable = !bn.is_training() && bn.running_mean().defined() &&
                        !needs_grad({x, residual, conv.weight(), conv.bias(), bn.weight(), bn.bias()});
  if (!foldable) return bn.forward_fused(conv(x), residual, relu);
  NF_CHECK(bn.num_features() == conv.out_channels(), "conv_bn: " + std::to_string(conv.out_channels()) +
                                                         " conv channels into BatchNorm(" +
                                                         std::to_string(bn.num_features()) + ")");
  auto [w, b] = fold(conv, bn);
  Tensor y = ops::conv2d_inference(x, w, b, conv.params(), residual, relu);
  conv.run_forward_hook(x, y);
  bn.run_forward_hook(y, y);
  return y;
}

}  // namespace nf
