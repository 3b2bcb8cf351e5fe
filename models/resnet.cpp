#include "models/resnet.h"

#include "layers/conv_bn.h"

#include "framework/ops/shape.h"
#include "framework/ops/shortcut.h"
#include "layers/dropout.h"
#include "layers/pooling.h"

namespace nf {

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, const ModelSpec& spec) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, Conv2dOptions{.stride = stride, .padding = 1, .bias = false}));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(out, spec.bn));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, Conv2dOptions{.padding = 1, .bias = false}));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out, spec.bn));
  if (stride == 1 && in == out) return;
  if (spec.shortcut == "pad") {
    pad_to_ = out;
    pad_stride_ = stride;
  } else {
    down_conv_ = std::make_shared<Conv2d>(in, out, 1, Conv2dOptions{.stride = stride, .bias = false});
    down_bn_ = std::make_shared<BatchNorm2d>(out, spec.bn);
    register_module("downsample", std::make_shared<Sequential>(std::vector<ModulePtr>{down_conv_, down_bn_}));
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor h = conv_bn(*conv1_, *bn1_, x, Tensor(), true);
  Tensor identity = down_conv_ ? conv_bn(*down_conv_, *down_bn_, x, Tensor(), false)
                    : pad_to_  ? ops::shortcut_pad(x, pad_to_, pad_stride_)
                               : x;
  return conv_bn(*conv2_, *bn2_, h, identity, true);  // relu(bn2(conv2(h)) + identity)
}

ResNet::ResNet(int64_t stem_width, const std::vector<int64_t>& widths, const std::vector<int64_t>& blocks,
               const ModelSpec& spec) {
  NF_CHECK(spec.shortcut == "projection" || spec.shortcut == "pad",
           "model.shortcut must be projection or pad, got '" + spec.shortcut + "'");
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(spec.in_channels, stem_width, 3,
                                                             Conv2dOptions{.padding = 1, .bias = false}));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(stem_width, spec.bn));
  int64_t in = stem_width;
  for (size_t s = 0; s < widths.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < blocks[s]; ++b) {
      int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      stage->push_back(std::make_shared<BasicBlock>(in, widths[s], stride, spec));
      in = widths[s];
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  pool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1, 1));
  if (spec.dropout > 0) dropout_ = register_module("dropout", std::make_shared<Dropout>(spec.dropout));
  fc_ = register_module("fc", std::make_shared<Linear>(in, spec.num_classes));
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor h = conv_bn(*conv1_, *bn1_, x, Tensor(), true);
  for (auto& stage : stages_) h = (*stage)(h);
  h = ops::flatten((*pool_)(h), 1);
  if (dropout_) h = (*dropout_)(h);
  return (*fc_)(h);
}

ModulePtr build_cifar_resnet(const ModelSpec& spec) {
  NF_CHECK(spec.name.rfind("resnet", 0) == 0, "not a CIFAR ResNet name: " + spec.name);
  int64_t depth = std::stoll(spec.name.substr(6));
  NF_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "CIFAR ResNet depth must be 6n+2, got " + spec.name);
  int64_t n = (depth - 2) / 6;
  return std::make_shared<ResNet>(16, std::vector<int64_t>{16, 32, 64}, std::vector<int64_t>{n, n, n}, spec);
}

ModulePtr build_resnet18(const ModelSpec& spec) {
  return std::make_shared<ResNet>(64, std::vector<int64_t>{64, 128, 256, 512}, std::vector<int64_t>{2, 2, 2, 2}, spec);
}

ModulePtr build_resnet34(const ModelSpec& spec) {
  return std::make_shared<ResNet>(64, std::vector<int64_t>{64, 128, 256, 512}, std::vector<int64_t>{3, 4, 6, 3}, spec);
}

}  // namespace nf
