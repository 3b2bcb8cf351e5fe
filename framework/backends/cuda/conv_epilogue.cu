// The convolution epilogue on CUDA (declared in conv.h): one elementwise pass over
// y [N, C, H, W], dense in memory format f (NCHW or NHWC), in place:
//   y = relu?(y + bias[c] + residual)
// with the same order of operations as the CPU path (oneDNN bias, then the sum post-op,
// then relu). bias [C] and residual (y's shape and format) are optional.
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/conv.h"

namespace nf::cuda {

namespace {

// Element i of y (in memory order) has channel (i / inner) % channels: inner is H*W for
// NCHW and 1 for NHWC.
__global__ void conv_epilogue_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                     const float* __restrict__ residual, int64_t n, int64_t channels, int64_t inner,
                                     bool relu) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float v = y[i];
    if (bias) v += bias[(i / inner) % channels];
    if (residual) v += residual[i];
    if (relu) v = v > 0.f ? v : 0.f;
    y[i] = v;
  }
}

}  // namespace

void conv_epilogue(const Tensor& y, MemoryFormat f, const Tensor& bias, const Tensor& residual, bool relu) {
  NF_CHECK(y.dim() == 4 && y.dtype() == DType::F32 && y.device().is_cuda() && y.is_contiguous(f),
           "conv2d epilogue (CUDA): y must be a dense 4-d F32 CUDA tensor, got " + y.str());
  const int64_t channels = y.size(1);
  if (bias.defined())
    NF_CHECK(bias.shape() == Shape{channels} && bias.dtype() == DType::F32 && bias.device() == y.device() &&
                 bias.is_contiguous(),
             "conv2d epilogue (CUDA): bias must be a dense F32 [" + std::to_string(channels) + "] on " +
                 y.device().str() + ", got " + bias.str());
  if (residual.defined())
    NF_CHECK(residual.shape() == y.shape() && residual.dtype() == DType::F32 && residual.device() == y.device() &&
                 residual.is_contiguous(f),
             "conv2d epilogue (CUDA): residual must be dense F32 like y " + y.str() + ", got " + residual.str());
  const int64_t n = y.numel();
  if (n == 0) return;
  Scope scope(y.device());
  const int64_t inner = f == MemoryFormat::ChannelsLast ? 1 : y.size(2) * y.size(3);
  conv_epilogue_kernel<<<blocks_for(n), 256, 0, stream()>>>(y.data<float>(),
                                                           bias.defined() ? bias.data<float>() : nullptr,
                                                           residual.defined() ? residual.data<float>() : nullptr, n,
                                                           channels, inner, relu);
  check_launch("conv_epilogue_kernel");
}

}  // namespace nf::cuda
