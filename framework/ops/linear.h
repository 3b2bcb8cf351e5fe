// Fully connected layer, differentiable (as torch.nn.functional.linear).
//   x: [N, in]   w: [out, in]   b: [out] or undefined   ->   y = x w^T + b: [N, out]
// CPU through oneDNN inner_product on plain row-major tensors; CUDA through cuBLAS
// SGEMM (framework/backends/cuda/linear.h).
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

}  // namespace nf::ops
