// Elementwise ops. Shapes: all inputs and the output have the same shape (any rank).
//   add(a, b)      = a + b            (residual connections, gradient accumulation)
//   relu(x)        = max(x, 0)
//   mul_scalar(x,s)= x * s
// All are differentiable; forward and backward sit side by side in eltwise.cpp.
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor add(const Tensor& a, const Tensor& b);
Tensor relu(const Tensor& x);
Tensor mul_scalar(const Tensor& x, float s);

}  // namespace nf::ops
