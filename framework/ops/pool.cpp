// max / avg / adaptive-avg pooling: forward and backward side by side, on NCHW, NHWC or
// (CPU) nChw16c tensors (the output keeps the input's memory format).
// CPU through oneDNN's pooling primitives (backends/cpu/pool.h): max pooling that will
// need a gradient keeps oneDNN's workspace (the argmax of each window) for its backward.
// CUDA through cuDNN's pooling (backends/cuda/pool.h): the backward reads the
// forward's x and y, which the closure keeps (detached).
// Adaptive pooling with uniform bins (H % out_h == 0 and W % out_w == 0, which includes the
// 1x1 global pool of every ResNet) is avg pooling with kernel = stride = (H/out_h, W/out_w).
// Other adaptive bins differ in size and may overlap, which one pooling primitive cannot
// express: that case is a plain loop over planes on CPU and a gather kernel on CUDA,
// forward and backward.
#include "framework/ops/pool.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/pool.h"
#include "framework/backends/cuda/pool.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

enum class Kind { Max, Avg };

// One pooling window; non-square only for adaptive pooling with uniform bins.
struct Window {
  int64_t kh, kw, sh, sw, ph, pw;
};

Shape out_shape(const Shape& x, const Window& w) {
  return {x[0], x[1], (x[2] + 2 * w.ph - w.kh) / w.sh + 1, (x[3] + 2 * w.pw - w.kw) / w.sw + 1};
}

void check_input(const char* op, const Tensor& x) {
  check_dtype(op, x, DType::F32);
  NF_CHECK(x.dim() == 4, op + ": input must be [N, C, H, W], got " + shape_str(x.shape()));
}

// PyTorch's checks for a square window (floor mode, no dilation).
Window square_window(const char* op, const Tensor& x, int64_t k, int64_t s, int64_t p) {
  check_input(op, x);
  const std::string args = "kernel=" + std::to_string(k) + " stride=" + std::to_string(s) +
                           " padding=" + std::to_string(p);
  NF_CHECK(k >= 1 && s >= 1 && p >= 0, op + ": need kernel, stride >= 1 and padding >= 0, got " + args);
  NF_CHECK(2 * p <= k, op + ": padding must be at most half the kernel size, got " + args);
  NF_CHECK(x.size(2) + 2 * p >= k && x.size(3) + 2 * p >= k,
           op + ": window larger than the padded input " + shape_str(x.shape()) + ", " + args);
  return {k, k, s, s, p, p};
}

cpu::PoolMode cpu_mode(Kind kind) { return kind == Kind::Max ? cpu::PoolMode::Max : cpu::PoolMode::AvgIncludePad; }
cpu::PoolWindow cpu_window(const Window& w) { return {w.kh, w.kw, w.sh, w.sw, w.ph, w.pw}; }

cuda::PoolMode cuda_mode(Kind kind) { return kind == Kind::Max ? cuda::PoolMode::Max : cuda::PoolMode::AvgIncludePad; }
cuda::PoolWindow cuda_window(const Window& w) { return {w.kh, w.kw, w.sh, w.sw, w.ph, w.pw}; }

// ---- forward / backward through one pooling window -----------------------------------

// What the backward reads besides the gradient: on CPU max pooling's argmax record (oneDNN
// workspace), on CUDA the forward's input and output (detached).
struct Saved {
  std::shared_ptr<Storage> workspace;
  Tensor x, y;
};

// dx from g for a pooling of input shape xs; dx is in memory format f, that of the
// forward's input.
Tensor pool_backward(const char* op, const Tensor& g_in, const Shape& xs, MemoryFormat f, Kind kind, const Window& w,
                     const Saved& saved) {
  Tensor g = g_in.contiguous(f);
  Tensor dx = Tensor::empty(xs, g.dtype(), g.device(), f);
  switch (g.device().type) {
    case DeviceType::CPU: cpu::pool_backward(cpu_mode(kind), cpu_window(w), g, dx, saved.workspace); break;
    case DeviceType::CUDA: cuda::pool_backward(cuda_mode(kind), cuda_window(w), f, saved.x, saved.y, g, dx); break;
    default: unsupported_device(op, g);
  }
  return dx;
}

Tensor pool_forward(const char* op, const Tensor& x_in, Kind kind, const Window& w) {
  Tensor x = x_in.dense_or_blocked();
  const MemoryFormat f = x.memory_format();
  Tensor y = Tensor::empty(out_shape(x.shape(), w), x.dtype(), x.device(), f);
  Saved saved;
  switch (x.device().type) {
    case DeviceType::CPU:
      saved.workspace = cpu::pool_forward(cpu_mode(kind), cpu_window(w), x, y, kind == Kind::Max && needs_grad({x_in}));
      break;
    case DeviceType::CUDA:
      cuda::pool_forward(cuda_mode(kind), cuda_window(w), f, x, y);
      if (needs_grad({x_in})) saved = {nullptr, x.detach(), y.detach()};
      break;
    default: unsupported_device(op, x);
  }
  const Shape xs = x.shape();
  return record(y, op, {x_in}, [=](const Tensor& g) {
    return std::vector<Tensor>{pool_backward(op, g, xs, f, kind, w, saved)};
  });
}

// ---- adaptive pooling with non-uniform bins (plain loops) -----------------------------

// dx in memory format f from g. The CPU loops work on NCHW; results take format f.
Tensor adaptive_backward(const Tensor& g_in, const Shape& xs, MemoryFormat f) {
  switch (g_in.device().type) {
    case DeviceType::CPU: {
      Tensor g = g_in.contiguous();
      Tensor dx = Tensor::zeros(xs, g.dtype(), g.device());
      cpu::adaptive_avg_pool2d_backward(g, dx);
      return dx.contiguous(f);
    }
    case DeviceType::CUDA: {
      Tensor g = g_in.contiguous(f);
      Tensor dx = Tensor::empty(xs, g.dtype(), g.device(), f);
      cuda::adaptive_avg_pool2d_backward(g, dx);
      return dx;
    }
    default: unsupported_device("adaptive_avg_pool2d backward", g_in);
  }
}

Tensor adaptive_forward(const Tensor& x_in, int64_t oh, int64_t ow) {
  // Results take the input's memory format, like the other pools.
  const MemoryFormat f = x_in.memory_format();
  Tensor y;
  switch (x_in.device().type) {
    case DeviceType::CPU: {
      Tensor x = x_in.contiguous();
      y = Tensor::empty({x.size(0), x.size(1), oh, ow}, x.dtype(), x.device());
      cpu::adaptive_avg_pool2d_forward(x, y);
      y = y.contiguous(f);
      break;
    }
    case DeviceType::CUDA: {
      Tensor x = x_in.contiguous(f);
      y = Tensor::empty({x.size(0), x.size(1), oh, ow}, x.dtype(), x.device(), f);
      cuda::adaptive_avg_pool2d_forward(x, y);
      break;
    }
    default: unsupported_device("adaptive_avg_pool2d", x_in);
  }
  const Shape xs = x_in.shape();
  return record(y, "adaptive_avg_pool2d", {x_in}, [xs, f](const Tensor& g) {
    return std::vector<Tensor>{adaptive_backward(g, xs, f)};
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool_forward("max_pool2d", x, Kind::Max, square_window("max_pool2d", x, kernel, stride, padding));
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool_forward("avg_pool2d", x, Kind::Avg, square_window("avg_pool2d", x, kernel, stride, padding));
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_input("adaptive_avg_pool2d", x);
  const int64_t H = x.size(2), W = x.size(3);
  NF_CHECK(out_h >= 1 && out_w >= 1 && H >= 1 && W >= 1,
           "adaptive_avg_pool2d: need a non-empty input and output, got input " + shape_str(x.shape()) +
               " and output size (" + std::to_string(out_h) + ", " + std::to_string(out_w) + ")");
  if (H % out_h == 0 && W % out_w == 0) {
    const int64_t kh = H / out_h, kw = W / out_w;
    return pool_forward("adaptive_avg_pool2d", x, Kind::Avg, {kh, kw, kh, kw, 0, 0});
  }
  return adaptive_forward(x, out_h, out_w);
}

}  // namespace nf::ops
