// 2-D convolution, differentiable (as torch.nn.functional.conv2d).
//   x: [N, C, H, W]   w: [O, C/groups, KH, KW]   b: [O] or undefined
//   y: [N, O, OH, OW], OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) / stride_h + 1 (same for W)
// x may be NCHW or NHWC; y is NHWC (channels-last) on CPU. w is OIHW. Dilation follows
// PyTorch (1 = dense kernel).
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::ops {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1;
};

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);

// Inference only (no autograd): y = relu?(conv2d(x, w, b) + residual?), the epilogue
// done by the convolution primitive itself (oneDNN post-ops: sum, then eltwise relu),
// so it costs no extra pass over memory. residual: undefined or of y's shape.
Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                        const Tensor& residual, bool relu);

}  // namespace nf::ops
