// 2-D convolution, differentiable (as torch.nn.functional.conv2d).
//   x: [N, C, H, W]   w: [O, C/groups, KH, KW]   b: [O] or undefined
//   y: [N, O, OH, OW], OH = (H + 2*pad_h - dilation_h*(KH-1) - 1) / stride_h + 1 (same for W)
// w is OIHW (the parameter layout on every device). Dilation follows PyTorch (1 = dense kernel).
// Memory formats: x may be NCHW, NHWC or (CPU) blocked nChw16c. On CPU, y and dx are
// channels-last under CpuConvAlgorithm::Direct; under ::Winograd (the default) they are
// blocked (MemoryFormat::Blocked16) wherever their channel count is a multiple of 16,
// else channels-last. On CUDA, y, dx (and the dy the backward uses) take x's memory
// format, NCHW or NHWC, and cuDNN gets the weights in the matching filter layout (OIHW,
// or KRSC for NHWC).
// CPU algorithms (process-wide, like torch.backends.cudnn settings; the recipe key
// `conv_algorithm`):
// - Direct: oneDNN's direct convolutions on channels-last activations, the kernels
//   PyTorch's channels-last path runs, hence its numbers up to summation order.
// - Winograd: blocked activations, and oneDNN's Winograd F(4x4, 3x3) for 3x3 stride-1
//   undilated ungrouped convolutions with both channel counts multiples of 16 (direct for
//   the others, or where oneDNN has no Winograd kernel): about 2.2x faster on AVX-512 for
//   32 channels and more (tools/scripts/bench), results within ~1e-5 relative of direct. Where
//   oneDNN has no AVX-512 kernels (older CPUs) it has neither Winograd nor fast nChw16c
//   kernels, and Winograd runs as Direct.
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

enum class CpuConvAlgorithm { Direct, Winograd };
void set_cpu_conv_algorithm(CpuConvAlgorithm a);
CpuConvAlgorithm cpu_conv_algorithm();

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);

// Inference only (no autograd): y = relu?(conv2d(x, w, b) + residual?). On CPU the
// epilogue is done by the convolution primitive itself (oneDNN post-ops: sum, then eltwise
// relu), so it costs no extra pass over memory; on CUDA it is one elementwise pass over y
// after cuDNN's convolution. residual: undefined or of y's shape.
Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                        const Tensor& residual, bool relu);

}  // namespace nf::ops
