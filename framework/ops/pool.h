// 2-d pooling of F32 images [N, C, H, W], PyTorch semantics, floor mode. The input may be
// NCHW or NHWC (channels-last) on CPU and CUDA, or blocked nChw16c on CPU; the output
// (and the input's gradient) keeps the input's memory format.
//   max_pool2d(x [N,C,H,W], kernel, stride, padding) -> [N,C,Ho,Wo],
//       Ho = (H + 2*padding - kernel) / stride + 1 (floor), same for Wo; padded cells never
//       win; the gradient goes to one maximum of each window (the first on CPU; on CUDA
//       cuDNN's deterministic max pooling picks it among ties).
//   avg_pool2d(x, kernel, stride, padding) -> same shape; every window is divided by
//       kernel*kernel, padded zeros included (count_include_pad=True).
//   adaptive_avg_pool2d(x, out_h, out_w) -> [N,C,out_h,out_w]; output row i averages input
//       rows [floor(i*H/out_h), ceil((i+1)*H/out_h)), columns likewise. 1x1 is the global
//       average pool.
// Requires kernel >= 1, stride >= 1, 0 <= padding <= kernel/2 and an output of at least 1x1.
// All three are differentiable w.r.t. x.
#pragma once
#include "framework/core/tensor.h"

namespace nf::ops {

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding);
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace nf::ops
