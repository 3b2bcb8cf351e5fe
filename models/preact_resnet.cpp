#include "models/preact_resnet.h"

#include <cstdio>

#include "framework/ops/eltwise.h"
#include "framework/ops/shape.h"
#include "layers/dropout.h"
#include "layers/pooling.h"

namespace nf {

PreActBlock::PreActBlock(int64_t in, int64_t out, int64_t stride, const ModelSpec& spec) {
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(in, spec.bn));
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, Conv2dOptions{.stride = stride, .padding = 1, .bias = false}));
  if (spec.block_dropout > 0) dropout_ = register_module("dropout", std::make_shared<Dropout>(spec.block_dropout));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out, spec.bn));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, Conv2dOptions{.padding = 1, .bias = false}));
  if (stride != 1 || in != out)
    downsample_ = register_module("downsample", std::make_shared<Sequential>(std::vector<ModulePtr>{
        std::make_shared<Conv2d>(in, out, 1, Conv2dOptions{.stride = stride, .bias = false})}));
}

Tensor PreActBlock::forward(const Tensor& x) {
  Tensor a = bn1_->forward_fused(x, Tensor(), true);
  Tensor identity = downsample_ ? (*downsample_)(a) : x;
  Tensor h = (*conv1_)(a);
  if (dropout_) h = (*dropout_)(h);
  h = (*conv2_)(bn2_->forward_fused(h, Tensor(), true));
  return ops::add(h, identity);
}

PreActResNet::PreActResNet(int64_t stem_width, const std::vector<int64_t>& widths,
                           const std::vector<int64_t>& blocks, const ModelSpec& spec) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(spec.in_channels, stem_width, 3,
                                                             Conv2dOptions{.padding = 1, .bias = false}));
  int64_t in = stem_width;
  for (size_t s = 0; s < widths.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < blocks[s]; ++b) {
      stage->push_back(std::make_shared<PreActBlock>(in, widths[s], (s > 0 && b == 0) ? 2 : 1, spec));
      in = widths[s];
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  bn_ = register_module("bn", std::make_shared<BatchNorm2d>(in, spec.bn));
  pool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1, 1));
  if (spec.dropout > 0) dropout_ = register_module("dropout", std::make_shared<Dropout>(spec.dropout));
  fc_ = register_module("fc", std::make_shared<Linear>(in, spec.num_classes));
}

Tensor PreActResNet::forward(const Tensor& x) {
  Tensor h = (*conv1_)(x);
  for (auto& stage : stages_) h = (*stage)(h);
  h = ops::flatten((*pool_)(bn_->forward_fused(h, Tensor(), true)), 1);
  if (dropout_) h = (*dropout_)(h);
  return (*fc_)(h);
}

ModulePtr build_preact_resnet18(const ModelSpec& spec) {
  return std::make_shared<PreActResNet>(64, std::vector<int64_t>{64, 128, 256, 512},
                                        std::vector<int64_t>{2, 2, 2, 2}, spec);
}

ModulePtr build_wide_resnet(const ModelSpec& spec) {
  int depth = 0, k = 0;
  NF_CHECK(std::sscanf(spec.name.c_str(), "wrn%d_%d", &depth, &k) == 2 && depth >= 10 && (depth - 4) % 6 == 0 && k >= 1,
           "Wide-ResNet name must be wrn{depth}_{k} with depth 6n+4, got '" + spec.name + "'");
  int64_t n = (depth - 4) / 6;
  return std::make_shared<PreActResNet>(16, std::vector<int64_t>{16 * k, 32 * k, 64 * k},
                                        std::vector<int64_t>{n, n, n}, spec);
}

}  // namespace nf
