// 2-D convolution, differentiable (as torch.nn.functional.conv2d).
//   x: [N, C, H, W]   w: [O, C/groups, KH, KW]   b: [O] or undefined
//   y: [N, O, OH, OW], OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) / stride_h + 1 (same for W)
// Tensors are plain NCHW / OIHW; on CPU oneDNN picks blocked layouts inside the op and
// the op reorders to and from them. Dilation follows PyTorch (1 = dense kernel).
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::ops {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1;
};

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);

}  // namespace nf::ops
