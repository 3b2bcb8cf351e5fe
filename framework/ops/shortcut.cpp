// shortcut_pad forward and backward over NCHW, NHWC or (CPU) nChw16c tensors alike: the
// output takes the input's memory format. CPU: plain loops (backends/cpu/shortcut.h).
// CUDA: gather kernels (backends/cuda/shortcut), one thread per output element,
// indexing through the same strides.
#include "framework/ops/shortcut.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/shortcut.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/shortcut.h"

namespace nf::ops {

namespace {

cuda::Nchw nchw(const Tensor& t) {
  cuda::Nchw d{};
  for (int i = 0; i < 4; ++i) d.size[i] = t.size(i), d.stride[i] = t.strides()[i];
  return d;
}

}  // namespace

Tensor shortcut_pad(const Tensor& x_in, int64_t out_channels, int64_t stride) {
  check_dim("shortcut_pad", x_in, 4);
  check_dtype("shortcut_pad", x_in, DType::F32);
  NF_CHECK(stride >= 1 && out_channels >= x_in.size(1),
           "shortcut_pad: cannot map " + x_in.str() + " to " + std::to_string(out_channels) + " channels");
  // A blocked input stays blocked where the output's channels can be blocked too.
  Tensor x = x_in.memory_format() == MemoryFormat::Blocked16 && out_channels % 16 != 0
                 ? x_in.contiguous(MemoryFormat::ChannelsLast)
                 : x_in.dense_or_blocked();
  const MemoryFormat f = x.memory_format();
  const Shape xs = x.shape();
  Shape ys{xs[0], out_channels, (xs[2] + stride - 1) / stride, (xs[3] + stride - 1) / stride};
  Tensor y = Tensor::empty(ys, DType::F32, x.device(), f);
  switch (x.device().type) {
    case DeviceType::CPU: cpu::shortcut_pad_forward(x, y, stride); break;
    case DeviceType::CUDA: {
      cuda::Scope scope(x.device());
      cuda::shortcut_pad_forward(x.data<float>(), nchw(x), y.data<float>(), nchw(y), stride,
                                 f == MemoryFormat::ChannelsLast);
      break;
    }
    default: unsupported_device("shortcut_pad", x);
  }
  return record(y, "shortcut_pad", {x_in}, [xs, f, stride](const Tensor& g_in) {
    Tensor g = g_in.contiguous(f);
    Tensor dx = Tensor::empty(xs, DType::F32, g.device(), f);
    switch (g.device().type) {
      case DeviceType::CPU: cpu::shortcut_pad_backward(g, dx, stride); break;
      case DeviceType::CUDA: {
        cuda::Scope scope(g.device());
        cuda::shortcut_pad_backward(g.data<float>(), nchw(g), dx.data<float>(), nchw(dx), stride,
                                    f == MemoryFormat::ChannelsLast);
        break;
      }
      default: unsupported_device("shortcut_pad backward", g);
    }
    return std::vector<Tensor>{dx};
  });
}

}  // namespace nf::ops
