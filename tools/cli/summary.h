// `normforge summary`: every leaf layer with its output shape, parameter count and
// multiply-accumulates (each layer's Module::macs: convolutions and linear layers; the
// rest are memory-bound and count 0, as ptflops/fvcore do), from one forward pass of
// one image.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "layers/module.h"

namespace nf {

struct LayerInfo {
  std::string name, type;
  Shape output;
  int64_t params = 0, macs = 0;
};

// input_chw: [C, H, W]; MACs are per image.
std::vector<LayerInfo> summarize(Module& model, const Shape& input_chw);
std::string format_summary(const std::vector<LayerInfo>& layers, int64_t total_params, int64_t trainable_params);
int64_t model_macs(Module& model, const Shape& input_chw);

}  // namespace nf
