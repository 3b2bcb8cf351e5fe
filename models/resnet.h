// ResNet with BasicBlocks, named as torchvision's ResNet so weights interchange with
// PyTorch: conv1, bn1, layer{1..}.{i}.{conv1,bn1,conv2,bn2,downsample.0,downsample.1}, fc.
//   CIFAR ResNet-(6n+2) (He et al. 2016): 3x3 stem of 16, stages of n blocks at widths
//   16/32/64 (stride 1,2,2), global average pool, fc. resnet20/32/44/56/110.
//   ResNet-18/34, CIFAR variant: 3x3 stem of 64, no max-pool, stages 64/128/256/512.
// Input [N, in_channels, H, W] -> logits [N, num_classes]; any H, W >= 8.
// A preset of the blocks a listed network uses: a Sequential conv1, bn1, relu,
// layer1.., avgpool, flatten, [dropout], fc, whose blocks are Residuals with the body
// inline (conv1, bn1, relu, conv2, bn2), the shortcut named downsample (1x1 conv + BN,
// or option A's zero padding with model.shortcut: pad) and a ReLU after the add. The
// fusion pass (layers/fusion.h) runs conv + BN (+ add) (+ ReLU) as one call.
#pragma once
#include "layers/module.h"
#include "models/model_spec.h"

namespace nf {

ModulePtr build_cifar_resnet(const ModelSpec& spec);  // resnet20/32/44/56/110 (depth from the name)
ModulePtr build_resnet18(const ModelSpec& spec);
ModulePtr build_resnet34(const ModelSpec& spec);

}  // namespace nf
