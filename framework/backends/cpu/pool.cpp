// Pooling on the CPU (see pool.h): oneDNN's pooling primitives, its reduction for the
// global average of NCHW tensors, and plain loops for adaptive bins of unequal size.
#include "framework/backends/cpu/pool.h"

#include <unordered_map>

#include "framework/backends/cpu/onednn.h"

namespace nf::cpu {

namespace {

dnnl::algorithm algorithm(PoolMode mode) {
  return mode == PoolMode::Max ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_include_padding;
}

Shape window_key(const PoolWindow& w) { return {w.kh, w.kw, w.sh, w.sw, w.ph, w.pw}; }

dnnl::pooling_forward::primitive_desc forward_pd(PoolMode mode, const Shape& xs, const Shape& ys, MemoryFormat f,
                                                 const PoolWindow& w, dnnl::prop_kind prop) {
  dnnl::pooling_forward::desc d(prop, algorithm(mode), cpu::desc(xs, f), cpu::desc(ys, f), {w.sh, w.sw},
                                {w.kh, w.kw}, {w.ph, w.pw}, {w.ph, w.pw});
  return dnnl::pooling_forward::primitive_desc(d, user_scratchpad(), cpu::engine());
}

// Global average (the window is the whole plane) of an NCHW tensor: oneDNN's reduction
// primitive reads it several times faster than its pooling, which transposes nchw
// internally. For NHWC it is the other way round (the reduction falls back to its
// reference code there), so NHWC goes through pooling.
void global_mean(const Tensor& x, const Tensor& y) {
  auto& p = cpu::cached<dnnl::reduction>(cpu::key("global_mean", x.shape()), [&] {
    dnnl::reduction::desc d(dnnl::algorithm::reduction_mean, cpu::desc(x), cpu::desc(y), 0.f, 0.f);
    return dnnl::reduction(dnnl::reduction::primitive_desc(d, cpu::engine()));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(x)}, {DNNL_ARG_DST, cpu::memory(y)}});
}

struct Forward {
  dnnl::pooling_forward::primitive_desc pd;
  dnnl::pooling_forward prim;
};
struct Backward {
  dnnl::pooling_backward::primitive_desc pd;
  dnnl::pooling_backward prim;
};

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

}  // namespace

std::shared_ptr<Storage> pool_forward(PoolMode mode, const PoolWindow& w, const Tensor& x, const Tensor& y,
                                      bool keep_ws) {
  const MemoryFormat f = x.memory_format();
  if (mode == PoolMode::AvgIncludePad && f == MemoryFormat::Contiguous && w.kh == x.size(2) && w.kw == x.size(3) &&
      w.ph == 0 && w.pw == 0) {
    global_mean(x, y);
    return nullptr;
  }
  auto& p = cpu::cached<Forward>(cpu::key("pool_fwd", int(mode), x.shape(), int(f), window_key(w), keep_ws), [&] {
    auto pd = forward_pd(mode, x.shape(), y.shape(), f, w,
                         keep_ws ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference);
    return Forward{pd, dnnl::pooling_forward(pd)};
  });
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, cpu::memory(x)},
                                             {DNNL_ARG_DST, cpu::memory(y)},
                                             {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(p.pd.scratchpad_desc())}};
  std::shared_ptr<Storage> workspace;
  if (keep_ws) {
    workspace = std::make_shared<Storage>(p.pd.workspace_desc().get_size(), Device::cpu());
    args.insert({DNNL_ARG_WORKSPACE, dnnl::memory(p.pd.workspace_desc(), cpu::engine(), workspace->data())});
  }
  p.prim.execute(cpu::stream(), args);
  return workspace;
}

void pool_backward(PoolMode mode, const PoolWindow& w, const Tensor& g, const Tensor& dx,
                   const std::shared_ptr<Storage>& workspace) {
  const Shape& xs = dx.shape();
  const MemoryFormat f = dx.memory_format();
  auto& b = cpu::cached<Backward>(cpu::key("pool_bwd", int(mode), xs, int(f), window_key(w)), [&] {
    auto hint = forward_pd(mode, xs, g.shape(), f, w, dnnl::prop_kind::forward_training);
    dnnl::pooling_backward::desc d(algorithm(mode), cpu::desc(xs, f), cpu::desc(g.shape(), f), {w.sh, w.sw},
                                   {w.kh, w.kw}, {w.ph, w.pw}, {w.ph, w.pw});
    dnnl::pooling_backward::primitive_desc pd(d, user_scratchpad(), cpu::engine(), hint);
    return Backward{pd, dnnl::pooling_backward(pd)};
  });
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, cpu::memory(g)},
                                             {DNNL_ARG_DIFF_SRC, cpu::memory(dx)},
                                             {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(b.pd.scratchpad_desc())}};
  if (mode == PoolMode::Max)
    args.insert({DNNL_ARG_WORKSPACE, dnnl::memory(b.pd.workspace_desc(), cpu::engine(), workspace->data())});
  b.prim.execute(cpu::stream(), args);
}

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y) {
  const int64_t H = x.size(2), W = x.size(3), oh = y.size(2), ow = y.size(3);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  for_each_bin(x.size(0) * x.size(1), H, W, oh, ow, [&](int64_t p, int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    const float* plane = xp + p * H * W;
    float sum = 0.f;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += plane[h * W + w];
    yp[p * oh * ow + o] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
  });
}

void adaptive_avg_pool2d_backward(const Tensor& g, const Tensor& dx) {
  const Shape& xs = dx.shape();
  const int64_t H = xs[2], W = xs[3], oh = g.size(2), ow = g.size(3);
  const float* gp = g.data<float>();
  float* dp = dx.data<float>();
  for_each_bin(xs[0] * xs[1], H, W, oh, ow, [&](int64_t p, int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    const float d = gp[p * oh * ow + o] / static_cast<float>((h1 - h0) * (w1 - w0));
    float* plane = dp + p * H * W;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) plane[h * W + w] += d;
  });
}

}  // namespace nf::cpu
