// Residual: y = body(x) + shortcut(x), x and y of one shape [N, C, H, W] (or [N, F]).
// A PyTorch module with two nn.Sequential children "body" and "shortcut" (an empty
// shortcut is the identity, as an empty nn.Sequential is), so parameters are named
// "body.0.weight", "shortcut.1.running_mean", ...
// forward_relu computes relu(body(x) + shortcut(x)). When the fusion pass has marked
// the body's tail (its last BatchNorm, and the Conv2d before it), the add and ReLU run
// inside that BatchNorm (conv_bn, layers/conv_bn.h): one pass instead of three, and in
// evaluation the BatchNorm folds into the convolution.
#pragma once
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/module.h"

namespace nf {

class Residual : public Module {
 public:
  Residual(std::shared_ptr<Sequential> body, std::shared_ptr<Sequential> shortcut);
  Tensor forward(const Tensor& x) override { return forward_relu(x, false); }
  Tensor forward_relu(const Tensor& x, bool relu);
  std::string type_name() const override { return "Residual"; }

  Sequential& body() { return *body_; }
  Sequential& shortcut() { return *shortcut_; }
  // The body's last children are `conv` (may be null) and `bn`: forward_relu runs them
  // as conv_bn with the shortcut as the residual.
  void fuse_tail(Conv2d* conv, BatchNorm* bn);

 private:
  std::shared_ptr<Sequential> body_, shortcut_;
  Conv2d* tail_conv_ = nullptr;
  BatchNorm* tail_bn_ = nullptr;
};

}  // namespace nf
