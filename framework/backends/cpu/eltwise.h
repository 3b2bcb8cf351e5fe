// Elementwise ops on the CPU through oneDNN's binary and eltwise primitives (for
// framework/ops/eltwise.cpp), cached by shape and memory format; named as the CUDA
// launchers (backends/cuda/eltwise.h).
// Every operand is a CPU tensor of one shape and one memory format (NCHW, NHWC or
// blocked nChw16c, dense), so element i of each is the same logical element; the
// outputs are allocated by the caller.
#pragma once
#include "framework/core/tensor.h"

namespace nf::cpu {

void eltwise_add(const Tensor& a, const Tensor& b, const Tensor& out);             // out = a + b
void eltwise_relu(const Tensor& x, const Tensor& y);                               // y = max(x, 0)
void eltwise_relu_backward(const Tensor& y, const Tensor& g, const Tensor& dx);    // dx = y > 0 ? g : 0
void eltwise_scale(const Tensor& x, float s, const Tensor& y);                     // y = x * s

}  // namespace nf::cpu
