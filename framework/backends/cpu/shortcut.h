// The option-A shortcut on the CPU (for framework/ops/shortcut.cpp): oneDNN has no
// strided-slice-and-pad primitive, so plain loops (memory-bound copies); named as the
// CUDA launchers (backends/cuda/shortcut.h).
// x / dx [N, C, H, W] and y / g [N, Co, Ho, Wo] are F32 CPU tensors of one memory format:
// NCHW, NHWC (dense, any strides: the loops index through them) or blocked nChw16c (the
// blocked formula). The C channels of x sit at offset (Co - C) / 2 of y.
//   forward:  y[n, c + off, i, j] = x[n, c, i*s, j*s], every other element of y 0
//   backward: dx[n, c, i*s, j*s] = g[n, c + off, i, j], every other element of dx 0
// The channel loop is innermost: contiguous in NHWC.
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::cpu {

void shortcut_pad_forward(const Tensor& x, const Tensor& y, int64_t stride);
void shortcut_pad_backward(const Tensor& g, const Tensor& dx, int64_t stride);

}  // namespace nf::cpu
