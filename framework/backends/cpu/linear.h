// linear (for framework/ops/linear.cpp) on the CPU through oneDNN's inner_product
// primitives, on plain row-major layouts. Shapes (contiguous F32 CPU tensors):
//   x, dx: [n, in]   w, dw: [out, in]   b, db: [out] or undefined   y, gy: [n, out]
#pragma once
#include "framework/core/tensor.h"

namespace nf::cpu {

// y = x w^T (+ b). training: a forward whose backward will run (forward_training).
// The forward runs in blocks of 16 rows through one primitive, so that each output row
// is bitwise independent of the batch size and of the other rows.
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, bool training);

// dx = gy w; dw = gy^T x (+ db = column sums of gy), into new tensors. Only the
// gradients asked for (non-null) are computed (x is read only for dw, w only for dx;
// xs and ws are their shapes); db alone (frozen weight) is a plain reduction.
void linear_backward(const Shape& xs, const Shape& ws, const Tensor& x, const Tensor& w, const Tensor& gy,
                     Tensor* dx, Tensor* dw, Tensor* db);

}  // namespace nf::cpu
