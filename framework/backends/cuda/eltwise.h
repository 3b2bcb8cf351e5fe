// Launchers for the flat elementwise kernels behind ops/eltwise.cpp. Every pointer is a
// device pointer to n dense F32 elements (any memory format, the same one for all
// operands, so element i of each operand is the same logical element). They run on the
// current device's stream (the caller holds a cuda::Scope) and throw nf::Error if the
// launch fails.
#pragma once
#include <cstdint>

namespace nf::cuda {

void eltwise_add(const float* a, const float* b, float* out, int64_t n);   // out = a + b
void eltwise_relu(const float* x, float* y, int64_t n);                     // y = max(x, 0), NaN stays NaN
void eltwise_relu_backward(const float* y, const float* g, float* dx, int64_t n);  // dx = y > 0 ? g : 0
void eltwise_scale(const float* x, float s, float* y, int64_t n);           // y = x * s

}  // namespace nf::cuda
