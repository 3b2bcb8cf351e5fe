#include "layers/conv_bn.h"

#include "framework/autograd/autograd.h"
#include "framework/ops/eltwise.h"

namespace nf {

namespace {

ops::FoldedConv fold(Conv2d& conv, BatchNorm& bn) {
  NF_CHECK(bn.num_features() == conv.out_channels(), "conv_bn: " + std::to_string(conv.out_channels()) +
                                                         " conv channels into BatchNorm(" +
                                                         std::to_string(bn.num_features()) + ")");
  ops::BatchNormState stats{bn.running_mean(), bn.running_var(), Tensor()};
  return ops::fold_batch_norm(conv.weight(), conv.bias(), stats, bn.weight(), bn.bias(), bn.options().eps);
}

}  // namespace

Tensor conv_bn(Conv2d& conv, BatchNorm* bn, const Tensor& x, const Tensor& residual, bool relu) {
  const bool inference = !conv.is_training() && (!bn || (!bn->is_training() && bn->running_mean().defined())) &&
                         !needs_grad({x, residual, conv.weight(), conv.bias(), bn ? bn->weight() : Tensor(),
                                      bn ? bn->bias() : Tensor()});
  if (!inference) {
    if (bn) return bn->forward_fused(conv(x), residual, relu);
    Tensor y = conv(x);
    if (residual.defined()) y = ops::add(y, residual);
    return relu ? ops::relu(y) : y;
  }
  Tensor y;
  if (bn) {
    const ops::FoldedConv f = fold(conv, *bn);
    y = ops::conv2d_inference(x, f.weight, f.bias, conv.params(), residual, relu);
  } else {
    y = ops::conv2d_inference(x, conv.weight(), conv.bias(), conv.params(), residual, relu);
  }
  conv.run_forward_hook(x, y);
  if (bn) bn->run_forward_hook(y, y);
  return y;
}

std::shared_ptr<Conv2d> folded_conv(Conv2d& conv, BatchNorm& bn) {
  Conv2dOptions o = conv.options();
  o.bias = true;
  auto out = std::make_shared<Conv2d>(conv.in_channels(), conv.out_channels(), conv.kernel_size(), o);
  out->to(conv.weight().device());
  const ops::FoldedConv f = fold(conv, bn);
  out->weight().copy_(f.weight);
  out->bias().copy_(f.bias);
  return out;
}

}  // namespace nf
