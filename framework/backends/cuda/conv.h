// 2-d convolution on CUDA through cuDNN 9's legacy API (for framework/ops/conv.cpp).
// Pure C++ (no CUDA or cuDNN header); the cuDNN descriptors are in cudnn_descriptor.h.
//
// Tensors: dense F32 on one CUDA device. Activations x [N, C, H, W], y and dy
// [N, O, OH, OW], dx like x: all in one memory format, ConvShape::format (x's): NCHW, or
// NHWC (channels-last). The filter w / dw [O, C/groups, KH, KW] follows it: OIHW with NCHW
// activations, KRSC (w.contiguous(MemoryFormat::ChannelsLast)) with NHWC ones. Bias [O].
//
// Each geometry (device, shapes, stride, padding, dilation, groups, format, allow_tf32)
// gets its descriptors once, cached for the process; each direction (forward, backward
// data, backward filter) chooses its algorithm on first use: the first result of
// cudnnGetConvolution*Algorithm_v7 (or, with cuda::cudnn_benchmark(), of timing them all
// with cudnnFindConvolution*Algorithm) that succeeded, is deterministic, uses FMA math
// (exact fp32) unless cuda::allow_tf32(), and needs at most 1 GiB of workspace.
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::cuda {

// One convolution: the shapes of x and w, the parameters as in ops::Conv2dParams, and the
// memory format of the activations.
struct ConvShape {
  Shape x, w;  // [N, C, H, W], [O, C/groups, KH, KW]
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
  MemoryFormat format;
};

void conv_forward(const ConvShape& s, const Tensor& x, const Tensor& w, const Tensor& y);             // y = x * w
void conv_backward_data(const ConvShape& s, const Tensor& w, const Tensor& dy, const Tensor& dx);     // dx
void conv_backward_filter(const ConvShape& s, const Tensor& x, const Tensor& dy, const Tensor& dw);   // dw
void conv_backward_bias(const ConvShape& s, const Tensor& dy, const Tensor& db);  // db[o] = sum of dy[:, o]

// In place over y (format f): y = relu?(y + bias[channel] + residual). bias ([C]) and
// residual (y's shape, dense in format f) may be undefined. One elementwise pass.
void conv_epilogue(const Tensor& y, MemoryFormat f, const Tensor& bias, const Tensor& residual, bool relu);

}  // namespace nf::cuda
