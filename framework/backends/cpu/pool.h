// 2-d pooling on the CPU (for framework/ops/pool.cpp, which owns the semantics,
// framework/ops/pool.h); entry points named as the CUDA ones (backends/cuda/pool.h).
//   pool_forward / pool_backward: oneDNN's pooling primitives, max or average counting
//     padded cells, floor mode, cached by shape, layout and window. x [N, C, H, W],
//     y / dy [N, C, OH, OW], dx like x, all F32 in one memory format: NCHW, NHWC
//     (channels-last) or blocked nChw16c. Max pooling that will need a gradient keeps
//     oneDNN's workspace (the argmax of each window), which its backward reads; avg
//     spreads dy / (kh*kw). A global average of an NCHW tensor (window = whole plane) uses
//     oneDNN's reduction instead.
//   adaptive_avg_pool2d_*: plain loops over NCHW planes for PyTorch's adaptive bins,
//     output row i averaging input rows [floor(i*H/OH), ceil((i+1)*H/OH)), columns
//     likewise; the bins may differ in size and overlap. Tensors contiguous (NCHW).
// Scratch slot 0 holds primitive scratchpads.
#pragma once
#include <cstdint>
#include <memory>

#include "framework/core/tensor.h"

namespace nf::cpu {

enum class PoolMode { Max, AvgIncludePad };

struct PoolWindow {
  int64_t kh, kw, sh, sw, ph, pw;  // kernel, stride, padding (height, width)
};

// y = pool(x) (y allocated by the caller, in x's memory format). Returns max pooling's
// workspace when keep_ws (its backward needs it), else null.
std::shared_ptr<Storage> pool_forward(PoolMode mode, const PoolWindow& w, const Tensor& x, const Tensor& y,
                                      bool keep_ws);
// dx from the gradient g of y, for a pooling of input shape dx.shape(); dx and g in one
// memory format; max pooling reads the forward's workspace.
void pool_backward(PoolMode mode, const PoolWindow& w, const Tensor& g, const Tensor& dx,
                   const std::shared_ptr<Storage>& workspace);

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y);
// dx (zeroed by the caller) receives g / bin size in every cell of each bin.
void adaptive_avg_pool2d_backward(const Tensor& g, const Tensor& dx);

}  // namespace nf::cpu
