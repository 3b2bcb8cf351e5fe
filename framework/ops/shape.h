// Differentiable shape changes (any dtype, any device; no data moves when x is contiguous).
//   reshape(x, shape): same elements in row-major order under a new shape; one entry may be
//       -1 (inferred). A view of x's storage when x is contiguous, else of a packed copy.
//   flatten(x, start_dim): [d0, ..., d_{s-1}, d_s * ... * d_last]; start_dim < 0 counts from
//       the end (PyTorch's flatten with end_dim = -1). [N,C,H,W] -> [N, C*H*W] by default.
// The gradient is g reshaped back to x's shape.
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 1);

}  // namespace nf::ops
