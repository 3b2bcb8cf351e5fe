// The ResNet family as presets of the listed-network blocks (see resnet.h).
#include "models/resnet.h"

#include <cstdio>
#include <functional>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "layers/residual.h"

namespace nf {

namespace {

using BlockFactory = std::function<ModulePtr(int64_t in, int64_t out, int64_t stride, const ModelSpec& spec)>;

ModulePtr conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return std::make_shared<Conv2d>(in, out, kernel, Conv2dOptions{.stride = stride, .padding = kernel / 2, .bias = false});
}

// Stages layer1, layer2, ... of blocks[s] blocks of width widths[s] (the first of each
// stage after the first with stride 2) appended to net; returns the last width.
int64_t add_stages(Sequential& net, int64_t in, const std::vector<int64_t>& widths, const std::vector<int64_t>& blocks,
                   const ModelSpec& spec, const BlockFactory& block) {
  for (size_t s = 0; s < widths.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < blocks[s]; ++b) {
      stage->push_back(block(in, widths[s], (s > 0 && b == 0) ? 2 : 1, spec));
      in = widths[s];
    }
    net.push_back("layer" + std::to_string(s + 1), stage);
  }
  return in;
}

// avgpool, flatten, [dropout], fc.
void add_head(Sequential& net, int64_t in, const ModelSpec& spec) {
  net.push_back("avgpool", std::make_shared<AdaptiveAvgPool2d>(1, 1));
  net.push_back("flatten", std::make_shared<Flatten>(1));
  if (spec.dropout > 0) net.push_back("dropout", std::make_shared<Dropout>(spec.dropout));
  net.push_back("fc", std::make_shared<Linear>(in, spec.num_classes));
}

ModulePtr basic_block(int64_t in, int64_t out, int64_t stride, const ModelSpec& spec) {
  auto body = std::make_shared<Sequential>();
  body->push_back("conv1", conv(in, out, 3, stride));
  body->push_back("bn1", std::make_shared<BatchNorm2d>(out, spec.bn));
  body->push_back("relu", std::make_shared<ReLU>());
  body->push_back("conv2", conv(out, out, 3, 1));
  body->push_back("bn2", std::make_shared<BatchNorm2d>(out, spec.bn));
  auto shortcut = std::make_shared<Sequential>();
  if (stride != 1 || in != out) {
    if (spec.shortcut == "pad") {
      shortcut->push_back(std::make_shared<PadShortcut>(out, stride));
    } else {
      shortcut->push_back(conv(in, out, 1, stride));
      shortcut->push_back(std::make_shared<BatchNorm2d>(out, spec.bn));
    }
  }
  return std::make_shared<Residual>(body, shortcut, ResidualOptions{true, "downsample", true});
}

ModulePtr resnet(int64_t stem_width, const std::vector<int64_t>& widths, const std::vector<int64_t>& blocks,
                 const ModelSpec& spec) {
  NF_CHECK(spec.shortcut == "projection" || spec.shortcut == "pad",
           "model.shortcut must be projection or pad, got '" + spec.shortcut + "'");
  auto net = std::make_shared<Sequential>();
  net->push_back("conv1", conv(spec.in_channels, stem_width, 3, 1));
  net->push_back("bn1", std::make_shared<BatchNorm2d>(stem_width, spec.bn));
  net->push_back("relu", std::make_shared<ReLU>());
  add_head(*net, add_stages(*net, stem_width, widths, blocks, spec, basic_block), spec);
  return net;
}

ModulePtr preact_block(int64_t in, int64_t out, int64_t stride, const ModelSpec& spec) {
  auto body = std::make_shared<Sequential>();
  body->push_back("bn1", std::make_shared<BatchNorm2d>(in, spec.bn));
  body->push_back("relu1", std::make_shared<ReLU>());
  body->push_back("conv1", conv(in, out, 3, stride));
  if (spec.block_dropout > 0) body->push_back("dropout", std::make_shared<Dropout>(spec.block_dropout));
  body->push_back("bn2", std::make_shared<BatchNorm2d>(out, spec.bn));
  body->push_back("relu2", std::make_shared<ReLU>());
  body->push_back("conv2", conv(out, out, 3, 1));
  auto shortcut = std::make_shared<Sequential>();
  const bool project = stride != 1 || in != out;
  if (project) shortcut->push_back(conv(in, out, 1, stride));
  return std::make_shared<Residual>(body, shortcut, ResidualOptions{true, "downsample", false, project ? 2u : 0u});
}

ModulePtr preact_resnet(int64_t stem_width, const std::vector<int64_t>& widths, const std::vector<int64_t>& blocks,
                        const ModelSpec& spec) {
  auto net = std::make_shared<Sequential>();
  net->push_back("conv1", conv(spec.in_channels, stem_width, 3, 1));
  const int64_t width = add_stages(*net, stem_width, widths, blocks, spec, preact_block);
  net->push_back("bn", std::make_shared<BatchNorm2d>(width, spec.bn));
  net->push_back("relu", std::make_shared<ReLU>());
  add_head(*net, width, spec);
  return net;
}

}  // namespace

ModulePtr build_cifar_resnet(const ModelSpec& spec) {
  NF_CHECK(spec.name.rfind("resnet", 0) == 0, "not a CIFAR ResNet name: " + spec.name);
  int64_t depth = std::stoll(spec.name.substr(6));
  NF_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "CIFAR ResNet depth must be 6n+2, got " + spec.name);
  int64_t n = (depth - 2) / 6;
  return resnet(16, {16, 32, 64}, {n, n, n}, spec);
}

ModulePtr build_resnet18(const ModelSpec& spec) { return resnet(64, {64, 128, 256, 512}, {2, 2, 2, 2}, spec); }

ModulePtr build_resnet34(const ModelSpec& spec) { return resnet(64, {64, 128, 256, 512}, {3, 4, 6, 3}, spec); }

ModulePtr build_preact_resnet18(const ModelSpec& spec) {
  return preact_resnet(64, {64, 128, 256, 512}, {2, 2, 2, 2}, spec);
}

ModulePtr build_wide_resnet(const ModelSpec& spec) {
  int depth = 0, k = 0;
  NF_CHECK(std::sscanf(spec.name.c_str(), "wrn%d_%d", &depth, &k) == 2 && depth >= 10 && (depth - 4) % 6 == 0 && k >= 1,
           "Wide-ResNet name must be wrn{depth}_{k} with depth 6n+4, got '" + spec.name + "'");
  int64_t n = (depth - 4) / 6;
  return preact_resnet(16, {16 * k, 32 * k, 64 * k}, {n, n, n}, spec);
}

}  // namespace nf
