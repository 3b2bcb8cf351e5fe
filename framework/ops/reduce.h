// Reductions.
//   sum_except_dim1(g): [N, C, ...] -> [C], the sum over every dim but dim 1: the bias
//   gradient of conv2d and linear when the weight needs none. Records no graph.
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor sum_except_dim1(const Tensor& g);

}  // namespace nf::ops
