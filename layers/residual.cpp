#include "layers/residual.h"

#include "framework/ops/eltwise.h"
#include "framework/ops/shortcut.h"
#include "layers/conv_bn.h"

namespace nf {

Residual::Residual(std::shared_ptr<Sequential> body, std::shared_ptr<Sequential> shortcut, ResidualOptions options)
    : body_(std::move(body)), shortcut_(std::move(shortcut)), options_(std::move(options)) {
  NF_CHECK(options_.shortcut_after <= body_->size(), "Residual: shortcut_after is past the body's end");
  if (options_.inline_body)
    for (const auto& [name, child] : body_->children()) register_module(name, child);
  else
    register_module("body", body_);
  if (!options_.inline_body || shortcut_->size()) register_module(options_.shortcut_name, shortcut_);
}

size_t Residual::fuse_tail() {
  const size_t n = body_->size();
  auto* bn = n ? dynamic_cast<BatchNorm*>(body_->at(n - 1).get()) : nullptr;
  auto* conv = n >= 2 ? dynamic_cast<Conv2d*>(body_->at(n - 2).get()) : nullptr;
  const size_t tail = bn ? (conv ? 2 : 1) : 0;
  if (!tail || n - tail < options_.shortcut_after) return 0;
  tail_conv_ = conv;
  tail_bn_ = bn;
  return tail;
}

Tensor Residual::forward_relu(const Tensor& x, bool relu) {
  // Body first, as PyTorch evaluates body(x) + shortcut(x) (the order dropout draws in).
  const size_t tail = tail_bn_ ? (tail_conv_ ? 2 : 1) : 0, split = options_.shortcut_after;
  const Tensor pre = body_->run(x, 0, split);  // x itself when split is 0
  const Tensor h = body_->run(pre, split, body_->size() - tail);
  const Tensor s = shortcut_->size() ? (*shortcut_)(pre) : pre;
  if (!tail_bn_) {
    Tensor y = ops::add(h, s);
    return relu ? ops::relu(y) : y;
  }
  return tail_conv_ ? conv_bn(*tail_conv_, *tail_bn_, h, s, relu) : tail_bn_->forward_fused(h, s, relu);
}

Tensor PadShortcut::forward(const Tensor& x) { return ops::shortcut_pad(x, out_channels_, stride_); }

}  // namespace nf
