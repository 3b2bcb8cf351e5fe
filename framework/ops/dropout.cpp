// dropout: forward and backward. One seed = gen.next() per call; element i of x's dense
// storage (NCHW, NHWC or the CPU's blocked nChw16c, in memory order) is kept iff
// u_i >= p, u_i = counter_uniform(seed, i) (framework/core/counter_random.h), and then
// scaled by 1 / (1 - p); the backward regenerates the mask from the seed over the
// gradient brought to x's layout. The CPU loop (backends/cpu/dropout) and the CUDA
// kernel (backends/cuda/dropout) compute the same mask for the same seed and layout.
#include "framework/ops/dropout.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/dropout.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/dropout.h"

namespace nf::ops {

namespace {

// out = in * mask(seed) over in's dense storage.
void apply(const Tensor& in, const Tensor& out, uint64_t seed, double p, float scale, const char* what) {
  switch (in.device().type) {
    case DeviceType::CPU: cpu::dropout_apply(in.data<float>(), out.data<float>(), in.numel(), seed, p, scale); break;
    case DeviceType::CUDA: {
      cuda::Scope scope(in.device());
      cuda::dropout_apply(in.data<float>(), out.data<float>(), in.numel(), seed, p, scale);
      break;
    }
    default: unsupported_device(what, in);
  }
}

}  // namespace

Tensor dropout(const Tensor& x_in, double p, bool training, Generator& gen) {
  NF_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0.0) return x_in;
  check_dtype("dropout", x_in, DType::F32);
  const Tensor x = x_in.dense_or_blocked();
  const float scale = 1.f / static_cast<float>(1.0 - p);  // PyTorch's noise.div_(1 - p)
  const uint64_t seed = gen.next();
  Tensor y = Tensor::empty_like(x);
  apply(x, y, seed, p, scale, "dropout");
  const MemoryFormat format = x.memory_format();
  return record(y, "dropout", {x_in}, [format, seed, p, scale](const Tensor& g_in) {
    const Tensor g = g_in.contiguous(format);
    Tensor dx = Tensor::empty_like(g);
    apply(g, dx, seed, p, scale, "dropout backward");
    return std::vector<Tensor>{dx};
  });
}

}  // namespace nf::ops
