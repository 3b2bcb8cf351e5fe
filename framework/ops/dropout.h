// Inverted dropout over a tensor of any shape (F32).
//   dropout(x, p, training, gen): in training, each element is kept with probability 1-p
//   and scaled by s = 1.f / float(1 - p), others become 0, so E[y] = x. Kept values are
//   bitwise x * s, as PyTorch's CPU dropout (noise.bernoulli_(1-p).div_(1-p); x * noise).
//   Returns x itself when !training or p == 0; p == 1 gives x * 0; p outside [0, 1] throws.
//   The mask is drawn from gen (one 64-bit draw per element, in element order), so the
//   same seed gives the same mask. Differentiable: dx = g * mask.
#pragma once
#include "framework/core/random.h"
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace nf::ops
