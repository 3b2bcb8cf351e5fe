// 2-d convolution on the CPU through oneDNN (for framework/ops/conv.cpp, which owns the
// semantics, framework/ops/conv.h); entry points named as the CUDA ones
// (framework/backends/cuda/conv.h).
//
// Tensors: F32 CPU. x [N, C, H, W], y and dy [N, O, OH, OW], dx like x; w / dw
// [O, C/groups, KH, KW] OIHW (contiguous; reordered per call into the primitive's own
// weight layout), b / db [O]. Activations are NCHW, channels-last (NHWC) or blocked
// (nChw16c, MemoryFormat::Blocked16); y and dx are written in the geometry's y_format
// and x_format, and inputs in any of the three are accepted (an input in another layout
// than the primitive's is reordered into a scratch buffer).
// Layouts (ConvGeometry, chosen once per geometry by conv_geometry):
// - Direct algorithm: channels-last x, dx and y, oneDNN's direct convolutions (the
//   kernels PyTorch's channels-last path runs).
// - Winograd algorithm (only where oneDNN has AVX-512 kernels, else as Direct): blocked
//   activations wherever their channel count is a multiple of 16 and at least 32, else
//   channels-last; oneDNN's Winograd F(4x4, 3x3) for 3x3 stride-1 undilated ungrouped
//   convolutions with both channel counts blocked (direct for the others, or where oneDNN
//   has no Winograd kernel).
#pragma once
#include <cstdint>
#include <string>

#include "framework/backends/cpu/onednn.h"
#include "framework/core/tensor.h"

namespace nf::cpu {

// The parameters of ops::Conv2dParams.
struct ConvParams {
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
};

// Shapes and oneDNN parameters of one convolution; `key` names them all.
struct ConvGeometry {
  Shape x, w, y;
  Shape w_dims;  // oneDNN weights: [O, C/G, KH, KW], or [G, O/G, C/G, KH, KW] when grouped
  dnnl::memory::dims strides, dilates, pad_l, pad_r;
  // The layouts of x (and dx) and y, and whether Winograd is worth trying.
  MemoryFormat x_format = MemoryFormat::ChannelsLast, y_format = MemoryFormat::ChannelsLast;
  bool winograd = false;
  std::string key;
};

// The geometry of a convolution of x with w into y (shapes checked by the caller), its
// layouts chosen for the Winograd algorithm (winograd_algorithm) or the Direct one.
ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Shape& y, const ConvParams& p,
                           bool winograd_algorithm);

// The epilogue of an inference convolution: y += previous y (the residual copied in
// first), then relu.
struct ConvPostOps {
  bool sum = false, relu = false;
};

// y = x * w (+ b), then the post-ops; y must already hold the residual when post.sum.
// training: a forward whose backward will run (forward_training primitives).
void conv_forward(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y,
                  bool training, const ConvPostOps& post = {});

// dx = conv_transpose(gy, w); dw (+ db) = correlation of x with gy. Only the gradients
// asked for (non-null) are computed, into new tensors: dx in g.x_format, dw OIHW;
// db alone (frozen weight) is a plain reduction. One call so that a dy reordered for the
// backward-data primitive is reused by the backward-weights one.
void conv_backward(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& gy, Tensor* dx,
                   Tensor* dw, Tensor* db);

}  // namespace nf::cpu
