#include "layers/residual.h"

#include "framework/ops/eltwise.h"
#include "framework/ops/shortcut.h"
#include "layers/conv_bn.h"

namespace nf {

Residual::Residual(std::shared_ptr<Sequential> body, std::shared_ptr<Sequential> shortcut, ResidualOptions options)
    : body_(std::move(body)), shortcut_(std::move(shortcut)), options_(std::move(options)) {
  if (options_.inline_body)
    for (const auto& [name, child] : body_->children()) register_module(name, child);
  else
    register_module("body", body_);
  if (!options_.inline_body || shortcut_->size()) register_module(options_.shortcut_name, shortcut_);
}

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

Tensor PadShortcut::forward(const Tensor& x) { return ops::shortcut_pad(x, out_channels_, stride_); }

}  // namespace nf
