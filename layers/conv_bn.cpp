#include "layers/conv_bn.h"

#include "framework/autograd/autograd.h"

namespace nf {

Tensor conv_bn(Conv2d& conv, BatchNorm& bn, const Tensor& x, const Tensor& residual, bool relu) {
  const bool foldable = !bn.is_training() && bn.running_mean().defined() &&
                        !needs_grad({x, residual, conv.weight(), conv.bias(), bn.weight(), bn.bias()});
  if (!foldable) return bn.forward_fused(conv(x), residual, relu);
  NF_CHECK(bn.num_features() == conv.out_channels(), "conv_bn: " + std::to_string(conv.out_channels()) +
                                                         " conv channels into BatchNorm(" +
                                                         std::to_string(bn.num_features()) + ")");
  ops::BatchNormState stats{bn.running_mean(), bn.running_var(), Tensor()};
  const ops::FoldedConv f =
      ops::fold_batch_norm(conv.weight(), conv.bias(), stats, bn.weight(), bn.bias(), bn.options().eps);
  Tensor y = ops::conv2d_inference(x, f.weight, f.bias, conv.params(), residual, relu);
  conv.run_forward_hook(x, y);
  bn.run_forward_hook(y, y);
  return y;
}

}  // namespace nf
