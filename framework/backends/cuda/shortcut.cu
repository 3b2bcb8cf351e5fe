// shortcut_pad kernels: one thread per output element (grid-stride). The element's
// logical (n, c, h, w) is decoded from its position in memory order (w innermost for
// NCHW, c innermost for NHWC, so neighbouring threads write neighbouring addresses); the
// addresses of both tensors then go through their strides.
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/shortcut.h"

namespace nf::cuda {

namespace {

struct Index {
  int64_t n, c, h, w;
};

__device__ Index decode(int64_t r, const Nchw& d, bool channels_last) {
  Index ix;
  if (channels_last) {  // memory order n, h, w, c
    ix.c = r % d.size[1];
    r /= d.size[1];
    ix.w = r % d.size[3];
    r /= d.size[3];
    ix.h = r % d.size[2];
    ix.n = r / d.size[2];
  } else {  // memory order n, c, h, w
    ix.w = r % d.size[3];
    r /= d.size[3];
    ix.h = r % d.size[2];
    r /= d.size[2];
    ix.c = r % d.size[1];
    ix.n = r / d.size[1];
  }
  return ix;
}

__device__ int64_t offset(const Nchw& d, int64_t n, int64_t c, int64_t h, int64_t w) {
  return n * d.stride[0] + c * d.stride[1] + h * d.stride[2] + w * d.stride[3];
}

__global__ void shortcut_forward_kernel(const float* __restrict__ x, Nchw xd, float* __restrict__ y, Nchw yd,
                                        int64_t s, bool cl, int64_t total) {
  const int64_t off = (yd.size[1] - xd.size[1]) / 2;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < total; r += int64_t(gridDim.x) * blockDim.x) {
    const Index o = decode(r, yd, cl);
    const int64_t c = o.c - off;
    y[offset(yd, o.n, o.c, o.h, o.w)] = c >= 0 && c < xd.size[1] ? x[offset(xd, o.n, c, o.h * s, o.w * s)] : 0.f;
  }
}

__global__ void shortcut_backward_kernel(const float* __restrict__ g, Nchw gd, float* __restrict__ dx, Nchw dxd,
                                         int64_t s, bool cl, int64_t total) {
  const int64_t off = (gd.size[1] - dxd.size[1]) / 2;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < total; r += int64_t(gridDim.x) * blockDim.x) {
    const Index o = decode(r, dxd, cl);
    dx[offset(dxd, o.n, o.c, o.h, o.w)] =
        o.h % s == 0 && o.w % s == 0 ? g[offset(gd, o.n, o.c + off, o.h / s, o.w / s)] : 0.f;
  }
}

int64_t numel(const Nchw& d) { return d.size[0] * d.size[1] * d.size[2] * d.size[3]; }

}  // namespace

void shortcut_pad_forward(const float* x, const Nchw& xd, float* y, const Nchw& yd, int64_t stride,
                          bool channels_last) {
  const int64_t total = numel(yd);
  if (total == 0) return;
  shortcut_forward_kernel<<<blocks_for(total), 256, 0, stream()>>>(x, xd, y, yd, stride, channels_last, total);
  check_launch("shortcut_pad forward kernel");
}

void shortcut_pad_backward(const float* g, const Nchw& gd, float* dx, const Nchw& dxd, int64_t stride,
                           bool channels_last) {
  const int64_t total = numel(dxd);
  if (total == 0) return;
  shortcut_backward_kernel<<<blocks_for(total), 256, 0, stream()>>>(g, gd, dx, dxd, stride, channels_last, total);
  check_launch("shortcut_pad backward kernel");
}

}  // namespace nf::cuda
