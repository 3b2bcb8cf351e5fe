// 2-d pooling on CUDA (for framework/ops/pool.cpp).
//   pool_forward / pool_backward: cuDNN 9 legacy pooling, max (CUDNN_POOLING_MAX_DETERMINISTIC)
//     or average counting padded cells (CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING), floor
//     mode. x [N, C, H, W], y / dy [N, C, OH, OW], dx like x, all dense F32 in one memory
//     format f (NCHW or NHWC). The backward reads the forward's x and y. Descriptors are
//     cached per mode, shapes, format and window.
//   adaptive_avg_pool2d_*: kernels (adaptive_pool.cu) for PyTorch's adaptive bins, output
//     row i averaging input rows [floor(i*H/OH), ceil((i+1)*H/OH)), columns likewise; the
//     bins may differ in size and overlap. Tensors dense in either format (any strides).
//     The backward gathers: each dx element sums, in a fixed order, dy/bin_size over the
//     bins that cover it (no atomics, deterministic, the CPU loop's order).
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace nf::cuda {

enum class PoolMode { Max, AvgIncludePad };

struct PoolWindow {
  int64_t kh, kw, sh, sw, ph, pw;  // kernel, stride, padding (height, width)
};

void pool_forward(PoolMode mode, const PoolWindow& w, MemoryFormat f, const Tensor& x, const Tensor& y);
void pool_backward(PoolMode mode, const PoolWindow& w, MemoryFormat f, const Tensor& x, const Tensor& y,
                   const Tensor& dy, const Tensor& dx);

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y);
void adaptive_avg_pool2d_backward(const Tensor& dy, const Tensor& dx);

}  // namespace nf::cuda
