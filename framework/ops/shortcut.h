// The parameter-free ResNet shortcut of He et al. (2016), "option A":
//   y = zero-pad-channels(x[:, :, ::stride, ::stride])
// x: [N, C, H, W] -> y: [N, C_out, ceil(H/stride), ceil(W/stride)], C_out >= C; the
// C input channels land at offset (C_out - C) / 2, the rest are zeros (as the
// common CIFAR implementations do with F.pad(..., (0,0,0,0,p,p))).
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor shortcut_pad(const Tensor& x, int64_t out_channels, int64_t stride);

}  // namespace nf::ops
