// The ResNet family, each a preset of the blocks a listed network uses: a Sequential of
// named layers whose blocks are Residuals with the body inline (layers/residual.h); the
// fusion pass (layers/fusion.h) runs conv + BN (+ add) (+ ReLU) as one call.
// Input [N, in_channels, H, W] -> logits [N, num_classes]; any H, W >= 8.
//
// ResNet with BasicBlocks, named as torchvision's ResNet so weights interchange with
// PyTorch: conv1, bn1, layer{1..}.{i}.{conv1,bn1,conv2,bn2,downsample.0,downsample.1}, fc.
// Blocks: relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x)), downsample a 1x1 conv
// + BN, or option A's zero padding (model.shortcut: pad), or the identity.
//   CIFAR ResNet-(6n+2) (He et al. 2016): 3x3 stem of 16, stages of n blocks at widths
//   16/32/64 (stride 1,2,2), global average pool, fc. resnet20/32/44/56/110.
//   ResNet-18/34, CIFAR variant: 3x3 stem of 64, no max-pool, stages 64/128/256/512.
//
// Pre-activation ResNets (He et al., "Identity Mappings in Deep Residual Networks"):
// blocks compute bn1 -> relu -> conv1 [-> dropout] -> bn2 -> relu -> conv2, plus a
// shortcut (identity, or a 1x1 conv `downsample.0` on the pre-activated input when the
// shape changes); the net ends with bn -> relu -> global average pool -> fc.
// Names: conv1, layer{s}.{i}.{bn1,conv1,bn2,conv2,downsample.0}, bn, fc.
//   PreAct-ResNet-18: 3x3 stem of 64, stages 64/128/256/512 x 2 blocks.
//   Wide-ResNet-d-k (Zagoruyko & Komodakis): 3x3 stem of 16, stages 16k/32k/64k of
//   (d-4)/6 blocks, dropout between the convolutions (model.block_dropout).
#pragma once
#include "layers/module.h"
#include "models/model_spec.h"

namespace nf {

ModulePtr build_cifar_resnet(const ModelSpec& spec);  // resnet20/32/44/56/110 (depth from the name)
ModulePtr build_resnet18(const ModelSpec& spec);
ModulePtr build_resnet34(const ModelSpec& spec);
ModulePtr build_preact_resnet18(const ModelSpec& spec);
ModulePtr build_wide_resnet(const ModelSpec& spec);  // "wrn{depth}_{k}", e.g. wrn16_4, wrn28_10

}  // namespace nf
