// Pre-activation ResNets (He et al., "Identity Mappings in Deep Residual Networks"):
// blocks compute bn1 -> relu -> conv1 [-> dropout] -> bn2 -> relu -> conv2, plus a
// shortcut (identity, or a 1x1 conv `downsample.0` on the pre-activated input when the
// shape changes); the net ends with bn -> relu -> global average pool -> fc.
//   PreAct-ResNet-18: 3x3 stem of 64, stages 64/128/256/512 x 2 blocks.
//   Wide-ResNet-d-k (Zagoruyko & Komodakis): 3x3 stem of 16, stages 16k/32k/64k of
//   (d-4)/6 blocks, dropout between the convolutions (model.block_dropout).
// Names: conv1, layer{s}.{i}.{bn1,conv1,bn2,conv2,downsample.0}, bn, fc.
// Input [N, in_channels, H, W] -> logits [N, num_classes].
#pragma once
#include <vector>

#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "models/model_spec.h"

namespace nf {

class PreActBlock : public Module {
 public:
  PreActBlock(int64_t in, int64_t out, int64_t stride, const ModelSpec& spec);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PreActBlock"; }

 private:
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<Conv2d> conv1_, conv2_;
  ModulePtr dropout_;
  std::shared_ptr<Sequential> downsample_;
};

class PreActResNet : public Module {
 public:
  PreActResNet(int64_t stem_width, const std::vector<int64_t>& widths, const std::vector<int64_t>& blocks,
               const ModelSpec& spec);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PreActResNet"; }

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
  std::shared_ptr<BatchNorm2d> bn_;
  ModulePtr pool_, dropout_;
  std::shared_ptr<Linear> fc_;
};

ModulePtr build_preact_resnet18(const ModelSpec& spec);
ModulePtr build_wide_resnet(const ModelSpec& spec);  // "wrn{depth}_{k}", e.g. wrn16_4, wrn28_10

}  // namespace nf
