// dropout on the CPU (for framework/ops/dropout.cpp): oneDNN 2.6 has no dropout (nor a
// random-number primitive), so plain loops. The mask is a contiguous F32 tensor of x's
// shape holding scale (kept) or 0 (dropped), elements in row-major order; forward is
// x * mask, backward g * mask.
#pragma once
#include "framework/core/random.h"
#include "framework/core/tensor.h"

namespace nf::cpu {

// mask[i] = u_i >= p ? scale : 0, with u_i = (gen.next() >> 11) * 2^-53 uniform in [0, 1).
void dropout_mask(Generator& gen, double p, float scale, const Tensor& mask);

// out = in * mask elementwise (contiguous CPU F32 tensors of one shape).
void dropout_apply(const Tensor& in, const Tensor& mask, const Tensor& out);

}  // namespace nf::cpu
