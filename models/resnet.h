// ResNet with BasicBlocks, named as torchvision's ResNet so weights interchange with
// PyTorch: conv1, bn1, layer{1..}.{i}.{conv1,bn1,conv2,bn2,downsample.0,downsample.1}, fc.
//   CIFAR ResNet-(6n+2) (He et al. 2016): 3x3 stem of 16, stages of n blocks at widths
//   16/32/64 (stride 1,2,2), global average pool, fc. resnet20/32/44/56/110.
//   ResNet-18/34, CIFAR variant: 3x3 stem of 64, no max-pool, stages 64/128/256/512.
// Input [N, in_channels, H, W] -> logits [N, num_classes]; any H, W >= 8.
#pragma once
#include <vector>

#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "models/model_spec.h"

namespace nf {

class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride, const ModelSpec& spec);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  // Projection shortcut, when shapes change: registered as downsample = Sequential(conv, bn).
  std::shared_ptr<Conv2d> down_conv_;
  std::shared_ptr<BatchNorm2d> down_bn_;
  int64_t pad_to_ = 0, pad_stride_ = 1;     // option-A shortcut, when shapes change
};

class ResNet : public Module {
 public:
  ResNet(int64_t stem_width, const std::vector<int64_t>& widths, const std::vector<int64_t>& blocks,
         const ModelSpec& spec);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResNet"; }

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
  ModulePtr pool_, dropout_;
  std::shared_ptr<Linear> fc_;
};

ModulePtr build_cifar_resnet(const ModelSpec& spec);  // resnet20/32/44/56/110 (depth from the name)
ModulePtr build_resnet18(const ModelSpec& spec);
ModulePtr build_resnet34(const ModelSpec& spec);

}  // namespace nf
