// shortcut_pad's CPU loops (see shortcut.h).
#include "framework/backends/cpu/shortcut.h"

#include <cstring>

namespace nf::cpu {

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
void copy(const Tensor& xt, const Tensor& yt, int64_t stride, bool to_y) {
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

}  // namespace

void shortcut_pad_forward(const Tensor& x, const Tensor& y, int64_t stride) { copy(x, y, stride, true); }
void shortcut_pad_backward(const Tensor& g, const Tensor& dx, int64_t stride) { copy(dx, g, stride, false); }

}  // namespace nf::cpu
