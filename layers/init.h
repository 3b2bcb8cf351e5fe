// Parameter initializers shared by the layers.
#pragma once
#include "framework/core/tensor.h"

namespace nf {

// A tensor of U(-bound, bound) draws from nf::default_generator(), in element order:
// the default initializer of Linear and Conv2d (PyTorch's kaiming_uniform with
// a=sqrt(5), bound = 1/sqrt(fan_in), and the same bound for biases).
Tensor uniform_init(const Shape& shape, double bound);

}  // namespace nf
