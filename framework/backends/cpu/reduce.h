// Per-channel sums on the CPU (ops::sum_except_dim1, and the bias gradients of conv and
// linear) through oneDNN's reduction primitive, cached by shape.
//   g: contiguous (row-major) F32 [N, C, ...], seen as [N, C, rest]; out: [C] F32,
//   out[c] = the sum over n and rest of g[n, c, rest].
#pragma once
#include "framework/core/tensor.h"

namespace nf::cpu {

void sum_except_dim1(const Tensor& g, Tensor& out);

}  // namespace nf::cpu
