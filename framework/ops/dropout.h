// Inverted dropout over a tensor of any shape (F32).
//   dropout(x, p, training, gen): in training, each element is kept with probability 1-p
//   and scaled by s = 1.f / float(1 - p), others become 0, so E[y] = x. Kept values are
//   bitwise x * s, as PyTorch's CPU dropout (noise.bernoulli_(1-p).div_(1-p); x * noise).
//   Returns x itself when !training or p == 0; p == 1 gives x * 0; p outside [0, 1] throws.
//   CPU: the mask is drawn from gen (one 64-bit draw per element, in row-major element
//   order), so the same seed gives the same mask. CUDA: one 64-bit draw from gen per call
//   seeds a counter-based generator on the device (element i kept iff u_i >= p, u_i from
//   SplitMix64 of (seed, i)), so the same seed gives the same mask there too, independent
//   of the launch shape; but it is a different stream of random numbers, so for one seed
//   the CUDA mask differs from the CPU mask (and gen advances by 1, not by numel).
//   Differentiable: dx = g * mask.
#pragma once
#include "framework/core/random.h"
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace nf::ops
