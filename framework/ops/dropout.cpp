// dropout: forward and backward. CPU: plain loops (backends/cpu/dropout.h): the mask is a
// tensor of x's shape holding s (kept) or 0 (dropped); forward is x * mask, backward
// g * mask. Element i is kept iff u_i >= p, with u_i = (gen.next() >> 11) * 2^-53
// uniform in [0, 1).
// CUDA: one seed = gen.next() per call; u_i comes from a counter-based hash of (seed, i)
// (backends/cuda/dropout), so the backward regenerates the mask from the seed
// instead of keeping it. Both index elements in row-major order (x made contiguous).
#include "framework/ops/dropout.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/dropout.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/dropout.h"

namespace nf::ops {

Tensor dropout(const Tensor& x_in, double p, bool training, Generator& gen) {
  NF_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0.0) return x_in;
  check_dtype("dropout", x_in, DType::F32);
  Tensor x = x_in.contiguous();
  const float scale = 1.f / static_cast<float>(1.0 - p);  // PyTorch's noise.div_(1 - p)
  Tensor mask;        // CPU: s or 0 per element
  uint64_t seed = 0;  // CUDA: the counter-based mask's seed
  Tensor y;
  switch (x.device().type) {
    case DeviceType::CPU:
      mask = Tensor::empty(x.shape(), x.dtype(), x.device());
      cpu::dropout_mask(gen, p, scale, mask);
      y = Tensor::empty(x.shape(), x.dtype(), x.device());
      cpu::dropout_apply(x, mask, y);
      break;
    case DeviceType::CUDA: {
      seed = gen.next();
      y = Tensor::empty(x.shape(), x.dtype(), x.device());
      cuda::Scope scope(x.device());
      cuda::dropout_apply(x.data<float>(), y.data<float>(), x.numel(), seed, p, scale);
      break;
    }
    default: unsupported_device("dropout", x);
  }
  return record(y, "dropout", {x_in}, [mask, seed, p, scale](const Tensor& g_in) {
    Tensor g = g_in.contiguous();
    Tensor dx;
    switch (g.device().type) {
      case DeviceType::CPU:
        dx = Tensor::empty(g.shape(), g.dtype(), g.device());
        cpu::dropout_apply(g, mask, dx);
        break;
      case DeviceType::CUDA: {
        dx = Tensor::empty(g.shape(), g.dtype(), g.device());
        cuda::Scope scope(g.device());
        cuda::dropout_apply(g.data<float>(), dx.data<float>(), g.numel(), seed, p, scale);
        break;
      }
      default: unsupported_device("dropout backward", g);
    }
    return std::vector<Tensor>{dx};
  });
}

}  // namespace nf::ops
