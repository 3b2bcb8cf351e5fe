#include "layers/residual.h"

#include "framework/ops/eltwise.h"
#include "layers/conv_bn.h"

namespace nf {

Residual::Residual(std::shared_ptr<Sequential> body, std::shared_ptr<Sequential> shortcut)
    : body_(register_module("body", std::move(body))), shortcut_(register_module("shortcut", std::move(shortcut))) {}

void Residual::fuse_tail(Conv2d* conv, BatchNorm* bn) {
  tail_conv_ = conv;
  tail_bn_ = bn;
}

Tensor Residual::forward_relu(const Tensor& x, bool relu) {
  // Body first, as PyTorch evaluates body(x) + shortcut(x) (the order dropout draws in).
  const size_t tail = tail_bn_ ? (tail_conv_ ? 2 : 1) : 0;
  const Tensor h = body_->run(x, 0, body_->size() - tail);
  const Tensor s = shortcut_->size() ? (*shortcut_)(x) : x;
  if (!tail_bn_) {
    Tensor y = ops::add(h, s);
    return relu ? ops::relu(y) : y;
  }
  return tail_conv_ ? conv_bn(*tail_conv_, *tail_bn_, h, s, relu) : tail_bn_->forward_fused(h, s, relu);
}

}  // namespace nf
