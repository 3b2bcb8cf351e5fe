// What a recipe's `model:` section says: which network and its hyper-parameters.
#pragma once
#include <cstdint>
#include <string>

#include "layers/batch_norm.h"

namespace nf {

struct ModelSpec {
  std::string name = "resnet20";
  int64_t num_classes = 10;
  int64_t in_channels = 3;
  std::string shortcut = "projection";  // projection (1x1 conv + BN) | pad (He et al. option A)
  BatchNormOptions bn;                  // momentum / eps of every BatchNorm
  double dropout = 0.0;                 // before fc
  double block_dropout = 0.0;           // between the convolutions of Wide-ResNet blocks
};

}  // namespace nf
