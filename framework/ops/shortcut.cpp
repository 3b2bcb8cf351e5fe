// shortcut_pad forward and backward. oneDNN has no strided-slice-and-pad primitive,
// so both are plain loops (memory-bound copies).
#include "framework/ops/shortcut.h"

#include <cstring>

#include "framework/autograd/autograd.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

// Copies between x [N,C,H,W] and the matching channels of y [N,Co,Ho,Wo]:
// to_y: y[n, c+off, i, j] = x[n, c, i*s, j*s] (y zeroed first); else the reverse into x (zeroed first).
void cpu_shortcut(float* x, float* y, const Shape& xs, const Shape& ys, int64_t stride, bool to_y) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], Co = ys[1], Ho = ys[2], Wo = ys[3];
  const int64_t off = (Co - C) / 2;
  std::memset(to_y ? y : x, 0, sizeof(float) * (to_y ? N * Co * Ho * Wo : N * C * H * W));
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          float& xv = x[((n * C + c) * H + i * stride) * W + j * stride];
          float& yv = y[((n * Co + c + off) * Ho + i) * Wo + j];
          if (to_y)
            yv = xv;
          else
            xv = yv;
        }
}

}  // namespace

Tensor shortcut_pad(const Tensor& x_in, int64_t out_channels, int64_t stride) {
  check_dim("shortcut_pad", x_in, 4);
  check_dtype("shortcut_pad", x_in, DType::F32);
  NF_CHECK(stride >= 1 && out_channels >= x_in.size(1),
           "shortcut_pad: cannot map " + x_in.str() + " to " + std::to_string(out_channels) + " channels");
  Tensor x = x_in.contiguous();
  Shape xs = x.shape();
  Shape ys{xs[0], out_channels, (xs[2] + stride - 1) / stride, (xs[3] + stride - 1) / stride};
  Tensor y = Tensor::empty(ys, DType::F32, x.device());
  switch (x.device().type) {
    case DeviceType::CPU: cpu_shortcut(x.data<float>(), y.data<float>(), xs, ys, stride, true); break;
    default: unsupported_device("shortcut_pad", x);
  }
  return record(y, "shortcut_pad", {x_in}, [xs, ys, stride](const Tensor& g_in) {
    Tensor g = g_in.contiguous();
    Tensor dx = Tensor::empty(xs, DType::F32, g.device());
    switch (g.device().type) {
      case DeviceType::CPU: cpu_shortcut(dx.data<float>(), g.data<float>(), xs, ys, stride, false); break;
      default: unsupported_device("shortcut_pad backward", g);
    }
    return std::vector<Tensor>{dx};
  });
}

}  // namespace nf::ops
