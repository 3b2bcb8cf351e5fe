// linear on the CPU through oneDNN's inner_product primitives (see linear.h), cached by
// shape. Scratch slot 0 holds the primitive scratchpads.
#include "framework/backends/cpu/linear.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "framework/backends/cpu/onednn.h"
#include "framework/backends/cpu/reduce.h"

namespace nf::cpu {

namespace {

dnnl::inner_product_forward::primitive_desc forward_pd(const Shape& x, const Shape& w, bool bias,
                                                       dnnl::prop_kind prop, const dnnl::primitive_attr& attr) {
  using D = dnnl::inner_product_forward::desc;
  auto src = cpu::plain_desc(x), wei = cpu::plain_desc(w), dst = cpu::plain_desc({x[0], w[0]});
  D d = bias ? D(prop, src, wei, cpu::plain_desc({w[0]}), dst) : D(prop, src, wei, dst);
  return {d, attr, cpu::engine()};
}

struct Primitive {
  dnnl::primitive prim;
  dnnl::memory::desc scratchpad;
};

// The forward runs in blocks of kRowBlock rows through one primitive, the last block
// zero-padded, so every row goes through the same kernel whatever the batch size and
// each output row is bitwise independent of the other rows (oneDNN would otherwise
// pick gemv for one row and gemm for many, which sum in different orders).
constexpr int64_t kRowBlock = 16;

}  // namespace

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, bool training) {
  const bool bias = b.defined();
  const int64_t n = x.size(0), k = x.size(1), o = w.size(0);
  const Shape block{kRowBlock, k};
  auto& f = cpu::cached<Primitive>(cpu::key("linear_fwd", block, w.shape(), bias, training), [&] {
    auto pd = forward_pd(block, w.shape(), bias,
                         training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
                         user_scratchpad());
    return Primitive{dnnl::inner_product_forward(pd), pd.scratchpad_desc()};
  });
  const dnnl::memory::desc src_md = cpu::plain_desc(block), dst_md = cpu::plain_desc({kRowBlock, o});
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_WEIGHTS, cpu::memory(w)},
                                             {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(f.scratchpad, 0)}};
  if (bias) args[DNNL_ARG_BIAS] = cpu::memory(b);
  Tensor tail_x, tail_y;
  for (int64_t r = 0; r < n; r += kRowBlock) {
    const int64_t rows = std::min(kRowBlock, n - r);
    float* xp = x.data<float>() + r * k;
    float* yp = y.data<float>() + r * o;
    if (rows < kRowBlock) {
      tail_x = Tensor::zeros(block);
      tail_y = Tensor::empty({kRowBlock, o});
      std::memcpy(tail_x.raw_data(), xp, rows * k * sizeof(float));
      xp = tail_x.data<float>();
      yp = tail_y.data<float>();
    }
    args[DNNL_ARG_SRC] = dnnl::memory(src_md, cpu::engine(), xp);
    args[DNNL_ARG_DST] = dnnl::memory(dst_md, cpu::engine(), yp);
    f.prim.execute(cpu::stream(), args);
    if (rows < kRowBlock) std::memcpy(y.data<float>() + r * o, yp, rows * o * sizeof(float));
  }
}

void linear_backward(const Shape& xs, const Shape& ws, const Tensor& x, const Tensor& w, const Tensor& gy,
                     Tensor* dx, Tensor* dw, Tensor* db) {
  if (dx) {
    auto& bd = cpu::cached<Primitive>(cpu::key("linear_bwd_data", xs, ws), [&] {
      dnnl::inner_product_backward_data::desc d(cpu::plain_desc(xs), cpu::plain_desc(ws), cpu::plain_desc(gy.shape()));
      dnnl::inner_product_backward_data::primitive_desc pd(
          d, user_scratchpad(), cpu::engine(), forward_pd(xs, ws, false, dnnl::prop_kind::forward_training, {}));
      return Primitive{dnnl::inner_product_backward_data(pd), pd.scratchpad_desc()};
    });
    *dx = Tensor::empty(xs);
    bd.prim.execute(cpu::stream(), {{DNNL_ARG_DIFF_DST, cpu::memory(gy)},
                                    {DNNL_ARG_WEIGHTS, cpu::memory(w)},
                                    {DNNL_ARG_DIFF_SRC, cpu::memory(*dx)},
                                    {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(bd.scratchpad, 0)}});
  }
  if (dw) {
    const bool bias = db != nullptr;
    auto& bw = cpu::cached<Primitive>(cpu::key("linear_bwd_weights", xs, ws, bias), [&] {
      using D = dnnl::inner_product_backward_weights::desc;
      auto src = cpu::plain_desc(xs), wei = cpu::plain_desc(ws), dst = cpu::plain_desc(gy.shape());
      D d = bias ? D(src, wei, cpu::plain_desc({ws[0]}), dst) : D(src, wei, dst);
      dnnl::inner_product_backward_weights::primitive_desc pd(
          d, user_scratchpad(), cpu::engine(), forward_pd(xs, ws, bias, dnnl::prop_kind::forward_training, {}));
      return Primitive{dnnl::inner_product_backward_weights(pd), pd.scratchpad_desc()};
    });
    *dw = Tensor::empty(ws);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, cpu::memory(x)},
                                               {DNNL_ARG_DIFF_DST, cpu::memory(gy)},
                                               {DNNL_ARG_DIFF_WEIGHTS, cpu::memory(*dw)},
                                               {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(bw.scratchpad, 0)}};
    if (bias) {
      *db = Tensor::empty({ws[0]});
      args[DNNL_ARG_DIFF_BIAS] = cpu::memory(*db);
    }
    bw.prim.execute(cpu::stream(), args);
  } else if (db) {
    *db = Tensor::empty({ws[0]});
    sum_except_dim1(gy, *db);
  }
}

}  // namespace nf::cpu
