// linear on the GPU (see linear.h). cuBLAS is column-major: a row-major [r, c]
// matrix is the column-major [c, r] matrix with leading dimension c, its transpose,
// so each row-major product is computed as its transpose:
//   y^T  [out, n]  = w  (op T of w^T [in, out])  x^T [in, n]
//   dx^T [in, n]   = w^T [in, out]               gy^T [out, n]
//   dw^T [in, out] = x^T [in, n]                 gy (op T of gy^T [out, n])
// The bias is added by a grid-stride kernel after the forward product.
#include "framework/backends/cuda/linear.h"

#include <climits>
#include <string>

#include "framework/backends/cuda/context.h"
#include "framework/core/error.h"

namespace nf::cuda {

namespace {

int to_int(int64_t v) {
  NF_CHECK(v <= INT_MAX, "linear: dimension " + std::to_string(v) + " exceeds cuBLAS's int range");
  return static_cast<int>(v);
}

// C = op(A) op(B), C a packed column-major [m, n] (ldc = m); alpha 1, beta 0 (C is
// not read). An empty sum (k = 0) gives zeros.
void gemm(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, const char* what) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    check(cudaMemsetAsync(c, 0, size_t(m) * size_t(n) * sizeof(float), stream()), what);
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  check(cublasSgemm(cublas(), ta, tb, to_int(m), to_int(n), to_int(k), &one, a, to_int(lda), b, to_int(ldb), &zero,
                    c, to_int(m)),
        what);
}

// y[r, j] += b[j] over the row-major matrix y of `cols` columns (`total` elements).
__global__ void add_bias_kernel(float* __restrict__ y, const float* __restrict__ b, int64_t cols, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += b[i % cols];
}

}  // namespace

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in, int64_t out) {
  gemm(CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, w, in, x, in, y, "cublasSgemm (linear forward)");
  const int64_t total = n * out;
  if (!b || total == 0) return;
  add_bias_kernel<<<blocks_for(total), 256, 0, stream()>>>(y, b, out, total);
  check_launch("add_bias_kernel");
}

void linear_backward_data(const float* gy, const float* w, float* dx, int64_t n, int64_t in, int64_t out) {
  gemm(CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, w, in, gy, out, dx, "cublasSgemm (linear backward data)");
}

void linear_backward_weights(const float* gy, const float* x, float* dw, int64_t n, int64_t in, int64_t out) {
  gemm(CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, x, in, gy, out, dw, "cublasSgemm (linear backward weights)");
}

}  // namespace nf::cuda
