// What a recipe's `model:` section says: which network (a built-in name, or a list of
// layers) and its hyper-parameters.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layers/batch_norm.h"
#include "layers/layer_spec.h"

namespace nf {

struct ModelSpec {
  std::string name = "resnet20";      // a built-in model, unless `layers` is given
  std::vector<LayerSpec> layers;       // model.layers: the network as a list
  int64_t input_size = 32;             // height = width of the inputs (from the data)
  int64_t num_classes = 10;
  int64_t in_channels = 3;
  std::string shortcut = "projection";  // projection (1x1 conv + BN) | pad (He et al. option A)
  BatchNormOptions bn;                  // momentum / eps of every BatchNorm
  double dropout = 0.0;                 // before fc
  double block_dropout = 0.0;           // between the convolutions of Wide-ResNet blocks
  bool folded = false;                  // every foldable BatchNorm folded into its conv (an export)
};

}  // namespace nf
