// Adaptive average pooling kernels (declared in pool.h), mirroring the CPU loops of
// ops/pool.cpp. x [N, C, H, W] -> y [N, C, OH, OW]; output cell (i, j) averages input rows
// [floor(i*H/OH), ceil((i+1)*H/OH)) and columns [floor(j*W/OW), ceil((j+1)*W/OW)).
// Tensors are addressed through their strides (NCHW, NHWC, any dense layout); threads walk
// the output (forward) or dx (backward) in memory order so that accesses coalesce.
// The backward is a gather: each dx element sums dy/bin_size over the cells whose bin
// covers it, rows then columns ascending, like the CPU loop: no atomics, deterministic.
#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/pool.h"

namespace nf::cuda {

namespace {

// Shape and element strides of a 4-d tensor.
struct Dims {
  int64_t n, c, h, w;
  int64_t sn, sc, sh, sw;
  bool channels_last;  // walk with c innermost
};

Dims dims_of(const Tensor& t) {
  const Shape& s = t.shape();
  const Shape& st = t.strides();
  return {s[0], s[1], s[2], s[3], st[0], st[1], st[2], st[3], t.memory_format() == MemoryFormat::ChannelsLast};
}

struct Index {
  int64_t n, c, h, w;
};

// The element with the i-th smallest offset of a dense tensor of dims d.
__device__ Index unravel(int64_t i, const Dims& d) {
  Index r;
  if (d.channels_last) {
    r.c = i % d.c; i /= d.c;
    r.w = i % d.w; i /= d.w;
    r.h = i % d.h; r.n = i / d.h;
  } else {
    r.w = i % d.w; i /= d.w;
    r.h = i % d.h; i /= d.h;
    r.c = i % d.c; r.n = i / d.c;
  }
  return r;
}

__device__ int64_t offset(const Index& i, const Dims& d) { return i.n * d.sn + i.c * d.sc + i.h * d.sh + i.w * d.sw; }

// Bin k of `bins` over a length L: [floor(k*L/bins), ceil((k+1)*L/bins)).
__device__ int64_t bin_start(int64_t k, int64_t L, int64_t bins) { return k * L / bins; }
__device__ int64_t bin_end(int64_t k, int64_t L, int64_t bins) { return ((k + 1) * L + bins - 1) / bins; }

__global__ void adaptive_avg_forward_kernel(const float* __restrict__ x, Dims xd, float* __restrict__ y, Dims yd,
                                            int64_t total) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
    const Index o = unravel(t, yd);
    const int64_t h0 = bin_start(o.h, xd.h, yd.h), h1 = bin_end(o.h, xd.h, yd.h);
    const int64_t w0 = bin_start(o.w, xd.w, yd.w), w1 = bin_end(o.w, xd.w, yd.w);
    const float* plane = x + o.n * xd.sn + o.c * xd.sc;
    float sum = 0.f;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += plane[h * xd.sh + w * xd.sw];
    y[offset(o, yd)] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
  }
}

// Output cell k covers input position p exactly for k in [floor(p*bins/L), ...) while
// bin_start(k) <= p: bin_end(k) > p  <=>  k >= floor(p*bins/L).
__global__ void adaptive_avg_backward_kernel(const float* __restrict__ dy, Dims gd, float* __restrict__ dx, Dims xd,
                                             int64_t total) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
    const Index p = unravel(t, xd);
    const float* plane = dy + p.n * gd.sn + p.c * gd.sc;
    float acc = 0.f;
    for (int64_t i = p.h * gd.h / xd.h; i < gd.h && bin_start(i, xd.h, gd.h) <= p.h; ++i) {
      const int64_t rows = bin_end(i, xd.h, gd.h) - bin_start(i, xd.h, gd.h);
      for (int64_t j = p.w * gd.w / xd.w; j < gd.w && bin_start(j, xd.w, gd.w) <= p.w; ++j) {
        const int64_t cols = bin_end(j, xd.w, gd.w) - bin_start(j, xd.w, gd.w);
        acc += plane[i * gd.sh + j * gd.sw] / static_cast<float>(rows * cols);
      }
    }
    dx[offset(p, xd)] = acc;
  }
}

void check_pair(const char* op, const Tensor& in, const Tensor& out) {
  NF_CHECK(in.dim() == 4 && out.dim() == 4 && in.dtype() == DType::F32 && out.dtype() == DType::F32 &&
               in.device().is_cuda() && in.device() == out.device() && in.is_dense() && out.is_dense() &&
               in.size(0) == out.size(0) && in.size(1) == out.size(1),
           std::string(op) + " (CUDA): dense 4-d F32 tensors on one CUDA device with matching N, C expected, got " +
               in.str() + " and " + out.str());
}

}  // namespace

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y) {
  check_pair("adaptive_avg_pool2d", x, y);
  const int64_t total = y.numel();
  if (total == 0) return;
  Scope scope(x.device());
  adaptive_avg_forward_kernel<<<blocks_for(total), 256, 0, stream()>>>(x.data<float>(), dims_of(x), y.data<float>(),
                                                                      dims_of(y), total);
  check_launch("adaptive_avg_forward_kernel");
}

void adaptive_avg_pool2d_backward(const Tensor& dy, const Tensor& dx) {
  check_pair("adaptive_avg_pool2d backward", dy, dx);
  const int64_t total = dx.numel();
  if (total == 0) return;
  Scope scope(dx.device());
  adaptive_avg_backward_kernel<<<blocks_for(total), 256, 0, stream()>>>(dy.data<float>(), dims_of(dy),
                                                                       dx.data<float>(), dims_of(dx), total);
  check_launch("adaptive_avg_backward_kernel");
}

}  // namespace nf::cuda
