// 2-D convolution, differentiable (as torch.nn.functional.conv2d).
//   x: [N, C, H, W]   w: [O, C/groups, KH, KW]   b: [O] or undefined
//   y: [N, O, OH, OW], OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) / stride_h + 1 (same for W)
// w is OIHW (the parameter layout on every device). Dilation follows PyTorch (1 = dense kernel).
// Memory formats: x may be NCHW or NHWC. On CPU, y and dx are NHWC (channels-last). On
// CUDA, y, dx (and the dy the backward uses) take x's memory format, NCHW or NHWC, and
// cuDNN gets the weights in the matching filter layout (OIHW, or KRSC for NHWC).
// CUDA algorithms: for each geometry (shapes, stride, padding, dilation, groups, format,
// TF32 flag) the descriptors and each direction's algorithm are chosen once and cached:
// the first of cuDNN's heuristic results that is deterministic, exact fp32 (FMA math)
// unless cuda::allow_tf32(), and needs at most 1 GiB of workspace. Results are therefore
// bitwise reproducible run to run.
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::ops {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1;
};

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);

// Inference only (no autograd): y = relu?(conv2d(x, w, b) + residual?). On CPU the
// epilogue is done by the convolution primitive itself (oneDNN post-ops: sum, then eltwise
// relu), so it costs no extra pass over memory; on CUDA it is one elementwise pass over y
// after cuDNN's convolution. residual: undefined or of y's shape.
Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                        const Tensor& residual, bool relu);

}  // namespace nf::ops
