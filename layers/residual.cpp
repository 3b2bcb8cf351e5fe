#include "layers/residual.h"

#include "framework/ops/eltwise.h"
#include "framework/ops/shortcut.h"
#include "layers/conv_bn.h"
#include "layers/onnx_graph.h"

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
  tail_conv_ = nullptr;
  tail_bn_ = nullptr;
  const size_t n = body_->size();
  auto* bn = n ? with_role<BatchNorm>(body_->at(n - 1).get(), FusionRole::BatchNorm) : nullptr;
  const size_t conv_at = bn ? n - 2 : n - 1;  // wraps around (no conv) when too short
  auto* conv = conv_at < n ? with_role<Conv2d>(body_->at(conv_at).get(), FusionRole::Conv) : nullptr;
  const size_t tail = (bn ? 1 : 0) + (conv ? 1 : 0);
  if (!tail || n - tail < options_.shortcut_after) return 0;
  tail_conv_ = conv;
  tail_bn_ = bn;
  return tail;
}

void Residual::fold_batch_norms() {
  for (size_t i = 0; i + 1 < body_->size(); ++i) {
    auto* conv = with_role<Conv2d>(body_->at(i).get(), FusionRole::Conv);
    auto* bn = with_role<BatchNorm>(body_->at(i + 1).get(), FusionRole::BatchNorm);
    if (!conv || !bn || !bn->has_running_stats() || options_.shortcut_after == i + 1) continue;
    ModulePtr folded = folded_conv(*conv, *bn);
    body_->replace(i, 2, folded);
    if (options_.inline_body) replace_children(i, 2, folded);  // the body's children are this module's
    if (options_.shortcut_after > i) --options_.shortcut_after;
  }
  tail_conv_ = nullptr;
  tail_bn_ = nullptr;
}

Tensor Residual::forward_relu(const Tensor& x, bool relu) {
  // Body first, as PyTorch evaluates body(x) + shortcut(x) (the order dropout draws in).
  const size_t tail = (tail_bn_ ? 1 : 0) + (tail_conv_ ? 1 : 0), split = options_.shortcut_after;
  const Tensor pre = body_->run(x, 0, split);  // x itself when split is 0
  const Tensor h = body_->run(pre, split, body_->size() - tail);
  const Tensor s = shortcut_->size() ? (*shortcut_)(pre) : pre;
  if (tail_conv_) return conv_bn(*tail_conv_, tail_bn_, h, s, relu);
  if (tail_bn_) return tail_bn_->forward_fused(h, s, relu);
  Tensor y = ops::add(h, s);
  return relu ? ops::relu(y) : y;
}

std::string Residual::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  const ResidualOptions& o = options_;
  const std::string body_p = o.inline_body ? p : onnx_name(p, "body");
  const std::string pre = body_->to_onnx(g, body_p, x, 0, o.shortcut_after);
  const std::string h = body_->to_onnx(g, body_p, pre, o.shortcut_after, body_->size());
  const std::string s = shortcut_->size() ? shortcut_->to_onnx(g, onnx_name(p, o.shortcut_name), pre) : pre;
  const std::string y = g.node("Add", {h, s}, onnx_name(p, "add"));
  return o.relu ? g.node("Relu", {y}, onnx_name(p, "relu")) : y;
}

Tensor PadShortcut::forward(const Tensor& x) { return ops::shortcut_pad(x, out_channels_, stride_); }

std::string PadShortcut::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  const int64_t in = g.input_shape(*this, p)[0], out = out_channels_, off = (out - in) / 2;
  std::vector<float> w(out * in, 0.f);  // [out, in, 1, 1]
  for (int64_t c = 0; c < in; ++c) w[(c + off) * in + c] = 1.f;
  return g.node("Conv", {x, g.initializer(onnx_name(p, "select"), {out, in, 1, 1}, w)}, p,
                {{"kernel_shape", std::vector<int64_t>{1, 1}}, {"strides", std::vector<int64_t>{stride_, stride_}}});
}

}  // namespace nf
