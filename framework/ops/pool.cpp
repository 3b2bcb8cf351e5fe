// max / avg / adaptive-avg pooling: forward and backward side by side, on NCHW, NHWC or
// (CPU) nChw16c tensors (the output keeps the input's memory format).
// CPU through oneDNN's pooling primitives, cached by shape, layout and window:
//   forward:  pooling_forward. Max pooling that will need a gradient runs forward_training
//             and keeps oneDNN's workspace (the argmax of each window) for its backward.
//             A global average (window = whole plane) uses oneDNN's reduction instead.
//   backward: pooling_backward (max reads the workspace; avg spreads g / (kh*kw)).
// CUDA through cuDNN's pooling (backends/cuda/pool_cudnn.h): the backward reads the
// forward's x and y, which the closure keeps (detached).
// Adaptive pooling with uniform bins (H % out_h == 0 and W % out_w == 0, which includes the
// 1x1 global pool of every ResNet) is avg pooling with kernel = stride = (H/out_h, W/out_w).
// Other adaptive bins differ in size and may overlap, which one pooling primitive cannot
// express: that case is a plain loop over planes on CPU and a gather kernel on CUDA,
// forward and backward.
// Scratch slot 0 holds primitive scratchpads.
#include "framework/ops/pool.h"

#include <unordered_map>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/dispatch.h"
#include "framework/backends/cuda/pool.h"

namespace nf::ops {

namespace {

enum class Kind { Max, Avg };

// One pooling window; non-square only for adaptive pooling with uniform bins.
struct Window {
  int64_t kh, kw, sh, sw, ph, pw;
  Shape key() const { return {kh, kw, sh, sw, ph, pw}; }
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

// ---- CPU (oneDNN) ------------------------------------------------------------------

dnnl::algorithm cpu_algorithm(Kind kind) {
  return kind == Kind::Max ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_include_padding;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::pooling_forward::primitive_desc cpu_forward_pd(Kind kind, const Shape& xs, MemoryFormat f, const Window& w,
                                                     dnnl::prop_kind prop) {
  dnnl::pooling_forward::desc d(prop, cpu_algorithm(kind), cpu::desc(xs, f), cpu::desc(out_shape(xs, w), f),
                                {w.sh, w.sw}, {w.kh, w.kw}, {w.ph, w.pw}, {w.ph, w.pw});
  return dnnl::pooling_forward::primitive_desc(d, user_scratchpad(), cpu::engine());
}

// Global average (the window is the whole plane) of an NCHW tensor: oneDNN's reduction
// primitive reads it several times faster than its pooling, which transposes nchw
// internally. For NHWC it is the other way round (the reduction falls back to its
// reference code there), so NHWC goes through pooling.
void cpu_global_mean(const Tensor& x, Tensor& y) {
  auto& p = cpu::cached<dnnl::reduction>(cpu::key("global_mean", x.shape()), [&] {
    dnnl::reduction::desc d(dnnl::algorithm::reduction_mean, cpu::desc(x), cpu::desc(y), 0.f, 0.f);
    return dnnl::reduction(dnnl::reduction::primitive_desc(d, cpu::engine()));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(x)}, {DNNL_ARG_DST, cpu::memory(y)}});
}

struct CpuForward {
  dnnl::pooling_forward::primitive_desc pd;
  dnnl::pooling_forward prim;
};
struct CpuBackward {
  dnnl::pooling_backward::primitive_desc pd;
  dnnl::pooling_backward prim;
};

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
    case DeviceType::CPU: {
      auto& b = cpu::cached<CpuBackward>(cpu::key("pool_bwd", int(kind), xs, int(f), w.key()), [&] {
        auto hint = cpu_forward_pd(kind, xs, f, w, dnnl::prop_kind::forward_training);
        dnnl::pooling_backward::desc d(cpu_algorithm(kind), cpu::desc(xs, f), cpu::desc(g.shape(), f),
                                       {w.sh, w.sw}, {w.kh, w.kw}, {w.ph, w.pw}, {w.ph, w.pw});
        dnnl::pooling_backward::primitive_desc pd(d, user_scratchpad(), cpu::engine(), hint);
        return CpuBackward{pd, dnnl::pooling_backward(pd)};
      });
      std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, cpu::memory(g)},
                                                 {DNNL_ARG_DIFF_SRC, cpu::memory(dx)},
                                                 {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(b.pd.scratchpad_desc())}};
      if (kind == Kind::Max)
        args.insert({DNNL_ARG_WORKSPACE, dnnl::memory(b.pd.workspace_desc(), cpu::engine(), saved.workspace->data())});
      b.prim.execute(cpu::stream(), args);
      break;
    }
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
    case DeviceType::CPU: {
      if (kind == Kind::Avg && f == MemoryFormat::Contiguous && w.kh == x.size(2) && w.kw == x.size(3) &&
          w.ph == 0 && w.pw == 0) {
        cpu_global_mean(x, y);
        break;
      }
      const bool keep_ws = kind == Kind::Max && needs_grad({x_in});
      auto& p = cpu::cached<CpuForward>(cpu::key("pool_fwd", int(kind), x.shape(), int(f), w.key(), keep_ws), [&] {
        auto pd = cpu_forward_pd(kind, x.shape(), f, w,
                                 keep_ws ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference);
        return CpuForward{pd, dnnl::pooling_forward(pd)};
      });
      std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, cpu::memory(x)},
                                                 {DNNL_ARG_DST, cpu::memory(y)},
                                                 {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(p.pd.scratchpad_desc())}};
      if (keep_ws) {
        saved.workspace = std::make_shared<Storage>(p.pd.workspace_desc().get_size(), Device::cpu());
        args.insert(
            {DNNL_ARG_WORKSPACE, dnnl::memory(p.pd.workspace_desc(), cpu::engine(), saved.workspace->data())});
      }
      p.prim.execute(cpu::stream(), args);
      break;
    }
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

// Bin i of n over a length L: [floor(i*L/n), ceil((i+1)*L/n)), as PyTorch.
int64_t bin_start(int64_t i, int64_t L, int64_t n) { return i * L / n; }
int64_t bin_end(int64_t i, int64_t L, int64_t n) { return ((i + 1) * L + n - 1) / n; }

// Calls f(plane, output index in plane, h0, h1, w0, w1) for every output cell; planes in parallel.
template <class F>
void for_each_bin(int64_t planes, int64_t H, int64_t W, int64_t oh, int64_t ow, const F& f) {
#pragma omp parallel for
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        f(p, i * ow + j, bin_start(i, H, oh), bin_end(i, H, oh), bin_start(j, W, ow), bin_end(j, W, ow));
}

// dx in memory format f from g. The CPU loops work on NCHW; results take format f.
Tensor adaptive_backward(const Tensor& g_in, const Shape& xs, MemoryFormat f) {
  switch (g_in.device().type) {
    case DeviceType::CPU: {
      Tensor g = g_in.contiguous();
      Tensor dx = Tensor::zeros(xs, g.dtype(), g.device());
      const int64_t H = xs[2], W = xs[3], oh = g.size(2), ow = g.size(3);
      const float* gp = g.data<float>();
      float* dp = dx.data<float>();
      for_each_bin(xs[0] * xs[1], H, W, oh, ow, [&](int64_t p, int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
        const float d = gp[p * oh * ow + o] / static_cast<float>((h1 - h0) * (w1 - w0));
        float* plane = dp + p * H * W;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) plane[h * W + w] += d;
      });
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
      const int64_t H = x.size(2), W = x.size(3);
      y = Tensor::empty({x.size(0), x.size(1), oh, ow}, x.dtype(), x.device());
      const float* xp = x.data<float>();
      float* yp = y.data<float>();
      for_each_bin(x.size(0) * x.size(1), H, W, oh, ow, [&](int64_t p, int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
        const float* plane = xp + p * H * W;
        float sum = 0.f;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) sum += plane[h * W + w];
        yp[p * oh * ow + o] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
      });
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
