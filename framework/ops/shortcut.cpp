// shortcut_pad forward and backward. oneDNN has no strided-slice-and-pad primitive,
// so both are plain loops (memory-bound copies), over NCHW, NHWC or (CPU) nChw16c
// tensors alike: the output takes the input's memory format and the loops index
// through the strides, or the blocked formula.
// CUDA: gather kernels (backends/cuda/shortcut_kernels), one thread per output element,
// indexing through the same strides.
#include "framework/ops/shortcut.h"

#include <cstring>

#include "framework/autograd/autograd.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/shortcut.h"

namespace nf::ops {

namespace {

// Element offsets in a dense or blocked (nChw16c) 4-D CPU tensor.
struct Offsets {
  Shape shape, strides;
  bool blocked;
  explicit Offsets(const Tensor& t)
      : shape(t.shape()), strides(t.strides()), blocked(t.memory_format() == MemoryFormat::Blocked16) {}
  int64_t operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    if (blocked) return (((n * (shape[1] / 16) + c / 16) * shape[2] + h) * shape[3] + w) * 16 + c % 16;
    return n * strides[0] + c * strides[1] + h * strides[2] + w * strides[3];
  }
};

// Copies between x [N,C,H,W] and the matching channels of y [N,Co,Ho,Wo] (one memory
// format): to_y: y[n, c+off, i, j] = x[n, c, i*s, j*s] (y zeroed first); else the
// reverse into x (zeroed first). The channel loop is innermost: contiguous in NHWC.
void cpu_shortcut(const Tensor& xt, const Tensor& yt, int64_t stride, bool to_y) {
  const Shape &xs = xt.shape(), &ys = yt.shape();
  const Offsets ox(xt), oy(yt);
  const int64_t N = xs[0], C = xs[1], Co = ys[1], Ho = ys[2], Wo = ys[3];
  const int64_t off = (Co - C) / 2;
  float *x = xt.data<float>(), *y = yt.data<float>();
  std::memset(to_y ? y : x, 0, to_y ? yt.nbytes() : xt.nbytes());
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j)
        for (int64_t c = 0; c < C; ++c) {
          float& xv = x[ox(n, c, i * stride, j * stride)];
          float& yv = y[oy(n, c + off, i, j)];
          if (to_y)
            yv = xv;
          else
            xv = yv;
        }
}

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
    case DeviceType::CPU: cpu_shortcut(x, y, stride, true); break;
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
      case DeviceType::CPU: cpu_shortcut(dx, g, stride, false); break;
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
