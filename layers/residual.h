// Residual: y = body(x) + shortcut(x) (relu'd when options.relu), x and y of one shape
// [N, C, H, W] (or [N, F]); an empty shortcut is the identity.
// Names: by default a PyTorch module with two nn.Sequential children "body" and
// "shortcut" ("body.0.weight", "shortcut.1.running_mean": a listed network's residual).
// With options.inline_body the body's children are this module's own and the shortcut
// is named options.shortcut_name: torchvision's BasicBlock ("conv1.weight", "bn2.bias",
// "downsample.0.weight"), with options.relu its ReLU after the add; a pre-activation
// block's shortcut branches off inside the body (options.shortcut_after).
// forward_relu computes relu(body(x) + shortcut(x)). When the fusion pass has marked
// the body's tail (its last BatchNorm and the Conv2d before it, or a last Conv2d), the
// add and ReLU run inside that BatchNorm or convolution (conv_bn, layers/conv_bn.h): one
// pass instead of three, and in evaluation the BatchNorm folds into the convolution.
#pragma once
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/module.h"

namespace nf {

struct ResidualOptions {
  bool inline_body = false;
  std::string shortcut_name = "shortcut";
  bool relu = false;  // relu(body(x) + shortcut(x))
  // The shortcut branches off after the body's first `shortcut_after` children (0: it
  // takes x): a pre-activation block's projection takes relu(bn1(x)).
  size_t shortcut_after = 0;
};

class Residual : public Module {
 public:
  Residual(std::shared_ptr<Sequential> body, std::shared_ptr<Sequential> shortcut, ResidualOptions options = {});
  Tensor forward(const Tensor& x) override { return forward_relu(x, options_.relu); }
  Tensor forward_relu(const Tensor& x, bool relu);
  std::string type_name() const override { return "Residual"; }
  // Its body, its shortcut, Add [, Relu].
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;
  FusionRole fusion_role() const override { return FusionRole::Residual; }

  Sequential& body() { return *body_; }
  Sequential& shortcut() { return *shortcut_; }
  const ResidualOptions& options() const { return options_; }
  // The fusion pass: when the body ends in [Conv2d,] BatchNorm, or in a Conv2d, after
  // the shortcut's branch point, forward_relu runs them as conv_bn with the shortcut as
  // the residual. Returns how many of the body's children the tail takes (0: none).
  size_t fuse_tail();
  // BatchNorm folding (layers/fusion.h) in the body: each Conv2d directly followed by a
  // BatchNorm2d with running statistics becomes one biased Conv2d (folded_conv), unless
  // the shortcut branches off between them. The fusion pass must run again after.
  void fold_batch_norms();

 private:
  std::shared_ptr<Sequential> body_, shortcut_;
  ResidualOptions options_;
  Conv2d* tail_conv_ = nullptr;
  BatchNorm* tail_bn_ = nullptr;
};

// Option A shortcut (He et al.): x subsampled by `stride` and zero-padded to
// `out_channels` (ops::shortcut_pad); no parameters.
class PadShortcut : public Module {
 public:
  PadShortcut(int64_t out_channels, int64_t stride) : out_channels_(out_channels), stride_(stride) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PadShortcut"; }
  // A 1x1 Conv of stride s whose weight is the 0/1 matrix placing input channel c at
  // output channel c + (out - in)/2 (exact: each output is one input times 1, or 0).
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;
  int64_t out_channels() const { return out_channels_; }
  int64_t stride() const { return stride_; }

 private:
  int64_t out_channels_, stride_;
};

}  // namespace nf
