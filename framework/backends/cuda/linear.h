// The CUDA work of ops::linear (framework/ops/linear.cpp): cuBLAS SGEMMs on row-major
// F32 matrices, on the current device's stream and cuBLAS handle (cuda::cublas():
// pedantic fp32 by default, TF32 when cuda::allow_tf32()), and the bias broadcast.
// Shapes (row-major, contiguous device pointers):
//   x, dx: [n, in]   w, dw: [out, in]   b: [out] or null   y, gy: [n, out]
// The bias gradient (column sums of gy) is ops::sum_except_dim1, not here.
#pragma once
#include <cstdint>

namespace nf::cuda {

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in,
                    int64_t out);                                                                   // y = x w^T + b
void linear_backward_data(const float* gy, const float* w, float* dx, int64_t n, int64_t in, int64_t out);    // dx = gy w
void linear_backward_weights(const float* gy, const float* x, float* dw, int64_t n, int64_t in, int64_t out);  // dw = gy^T x

}  // namespace nf::cuda
