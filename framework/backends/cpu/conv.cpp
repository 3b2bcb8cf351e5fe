// Convolutions on the CPU through oneDNN's convolution primitives (layouts: conv.h).
// y and dx are produced in the geometry's layouts and an x or dy already in them is used
// as is, so a chain of convs, BNs, ReLUs and adds runs with no reorder; other inputs (the
// NCHW images) are reordered into a scratch buffer. Weights stay OIHW in the Tensor and
// are reordered into the primitive's layout (format_tag::any) per call (they are small).
// Every primitive and reorder is cached by geometry, algorithm and input layouts, so a
// steady-state training step builds nothing.
// Scratch slots: 0 primitive scratchpads; 1..6 temporary blocked tensors of one call.
#include "framework/backends/cpu/conv.h"

#include <unordered_map>

#include "framework/backends/cpu/reduce.h"

namespace nf::cpu {

namespace {

using dnnl::memory;

// Under Winograd, activations with fewer channels stay channels-last: there oneDNN's
// direct NHWC kernels beat both its Winograd and its blocked direct ones (16 channels:
// 9.3 against 10.4 ms for forward + backward of a ResNet-20 stage-1 conv at batch 128).
constexpr int64_t kMinBlockedChannels = 32;

memory::desc any_desc(const memory::dims& d) {
  return memory::desc(d, memory::data_type::f32, memory::format_tag::any);
}
// The primitive's x (and dx) and y layouts. An x that is not blocked feeding a blocked
// y (the images, a 16-channel stage into a 32-channel one) is left to oneDNN (`any`, and
// reordered by the Port): its direct kernels have nothing but reference code from NHWC
// into nChw16c.
memory::desc x_desc(const ConvGeometry& g) {
  if (g.x_format != MemoryFormat::Blocked16 && g.y_format == MemoryFormat::Blocked16)
    return any_desc(cpu::dims(g.x));
  return cpu::desc(g.x, g.x_format);
}
memory::desc y_desc(const ConvGeometry& g) { return cpu::desc(g.y, g.y_format); }
memory::desc plain_weights(const ConvGeometry& g) { return cpu::plain_desc(g.w_dims); }

// Winograd where eligible and oneDNN has a kernel for it, else direct.
template <class PrimitiveDesc, class Make>
PrimitiveDesc first_available(const ConvGeometry& g, const Make& make) {
  if (g.winograd) {
    try {
      return make(dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
    }
  }
  return make(dnnl::algorithm::convolution_direct);
}

// One tensor argument of a primitive: the tensor's own layout (`plain`: NCHW, NHWC or
// OIHW), the layout the primitive wants, and the cached reorder between them (towards
// `want` for inputs, back for outputs).
struct Port {
  memory::desc plain, want;
  bool same = true;
  dnnl::reorder reorder;

  Port() = default;
  Port(const memory::desc& plain_md, const memory::desc& want_md, bool is_input)
      : plain(plain_md), want(want_md), same(plain_md == want_md) {
    if (same) return;
    auto& e = cpu::engine();
    reorder = is_input ? dnnl::reorder(dnnl::reorder::primitive_desc(e, plain, e, want))
                       : dnnl::reorder(dnnl::reorder::primitive_desc(e, want, e, plain));
  }
  // Memory holding input t in the wanted layout (t itself, or a reordered copy in `slot`).
  memory in(const Tensor& t, int slot) const {
    memory m = cpu::memory(plain, t);
    if (same) return m;
    memory tmp = cpu::scratch_memory(want, slot);
    reorder.execute(cpu::stream(), {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, tmp}});
    return tmp;
  }
  // Memory the primitive writes output t into; finish() copies it back to t.
  memory out(const Tensor& t, int slot) const { return same ? cpu::memory(plain, t) : cpu::scratch_memory(want, slot); }
  void finish(const memory& m, const Tensor& t) const {
    if (!same) reorder.execute(cpu::stream(), {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, cpu::memory(plain, t)}});
  }
};

dnnl::convolution_forward::desc forward_desc(const ConvGeometry& g, dnnl::prop_kind prop, dnnl::algorithm alg,
                                             bool bias) {
  using D = dnnl::convolution_forward::desc;
  if (bias)
    return D(prop, alg, x_desc(g), any_desc(g.w_dims), cpu::plain_desc({g.y[1]}), y_desc(g), g.strides, g.dilates,
             g.pad_l, g.pad_r);
  return D(prop, alg, x_desc(g), any_desc(g.w_dims), y_desc(g), g.strides, g.dilates, g.pad_l, g.pad_r);
}

struct Forward {
  dnnl::convolution_forward prim;
  memory::desc scratchpad;
  Port src, weights, dst;
};

struct BackwardData {
  dnnl::convolution_backward_data prim;
  memory::desc scratchpad;
  Port diff_dst, weights, diff_src;
};

struct BackwardWeights {
  dnnl::convolution_backward_weights prim;
  memory::desc scratchpad;
  Port src, diff_dst, diff_weights;
};

dnnl::primitive_attr forward_attr(const ConvPostOps& post) {
  dnnl::primitive_attr attr = user_scratchpad();
  dnnl::post_ops ops;
  if (post.sum) ops.append_sum(1.f);
  if (post.relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  return attr;
}

}  // namespace

ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Shape& y, const ConvParams& p,
                           bool winograd_algorithm) {
  const int64_t C = x[1], O = w[0], KH = w[2], KW = w[3], G = p.groups;
  ConvGeometry g;
  g.x = x;
  g.w = w;
  g.y = y;
  g.w_dims = G == 1 ? g.w : Shape{G, O / G, C / G, KH, KW};
  g.strides = {p.stride_h, p.stride_w};
  g.dilates = {p.dilation_h - 1, p.dilation_w - 1};  // oneDNN counts the gaps
  g.pad_l = g.pad_r = {p.pad_h, p.pad_w};
  if (winograd_algorithm && cpu::avx512_kernels()) {
    auto blockable = [](int64_t channels) { return channels % 16 == 0 && channels >= kMinBlockedChannels; };
    if (blockable(C)) g.x_format = MemoryFormat::Blocked16;
    if (blockable(O)) g.y_format = MemoryFormat::Blocked16;
    g.winograd = KH == 3 && KW == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 &&
                 p.dilation_w == 1 && G == 1 && blockable(C) && blockable(O);
  }
  g.key = cpu::key(g.x, g.w, p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, G,
                   int(g.x_format), int(g.y_format));
  return g;
}

void conv_forward(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y,
                  bool training, const ConvPostOps& post) {
  const bool bias = b.defined();
  auto& f = cpu::cached<Forward>(cpu::key("conv_fwd", g.key, bias, training, int(x.memory_format()), post.sum,
                                          post.relu), [&] {
    // Winograd always runs as forward_training, which takes the weights in a plain
    // blocked layout and transforms them inside the kernel: forward_inference wants them
    // pre-transformed, a reorder that costs more than the kernel saves (0.66 against
    // 0.17 ms for a 64x64x3x3 filter).
    auto prop = training || g.winograd ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    using PD = dnnl::convolution_forward::primitive_desc;
    PD pd = first_available<PD>(g, [&](dnnl::algorithm alg) {
      return PD(forward_desc(g, prop, alg, bias), forward_attr(post), cpu::engine());
    });
    return Forward{dnnl::convolution_forward(pd), pd.scratchpad_desc(), Port(cpu::desc(x), pd.src_desc(), true),
                   Port(plain_weights(g), pd.weights_desc(), true), Port(cpu::desc(y), pd.dst_desc(), false)};
  });
  dnnl::memory dst = f.dst.out(y, 3);
  NF_CHECK(f.dst.same || !post.sum, "conv2d: a fused residual needs the primitive to write y in place");
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, f.src.in(x, 1)},
                                             {DNNL_ARG_WEIGHTS, f.weights.in(w, 2)},
                                             {DNNL_ARG_DST, dst},
                                             {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(f.scratchpad, 0)}};
  if (bias) args[DNNL_ARG_BIAS] = cpu::memory(b);
  f.prim.execute(cpu::stream(), args);
  f.dst.finish(dst, y);
}

void conv_backward(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& gy, Tensor* dx,
                   Tensor* dw, Tensor* db) {
  auto training_pd = [&](dnnl::algorithm alg, bool bias) {
    return dnnl::convolution_forward::primitive_desc(forward_desc(g, dnnl::prop_kind::forward_training, alg, bias),
                                                     cpu::engine());
  };
  dnnl::memory gy_blocked;  // diff_dst in the layout of the last primitive that used it
  auto diff_dst = [&](const Port& port, int slot) {
    if (!gy_blocked || !(gy_blocked.get_desc() == port.want)) gy_blocked = port.in(gy, slot);
    return gy_blocked;
  };
  if (dx) {
    *dx = Tensor::empty(g.x, DType::F32, Device::cpu(), g.x_format);
    auto& bd = cpu::cached<BackwardData>(cpu::key("conv_bwd_data", g.key, int(gy.memory_format())), [&] {
      using PD = dnnl::convolution_backward_data::primitive_desc;
      PD pd = first_available<PD>(g, [&](dnnl::algorithm alg) {
        dnnl::convolution_backward_data::desc d(alg, x_desc(g), any_desc(g.w_dims), y_desc(g), g.strides, g.dilates,
                                                g.pad_l, g.pad_r);
        return PD(d, user_scratchpad(), cpu::engine(), training_pd(alg, false));
      });
      return BackwardData{dnnl::convolution_backward_data(pd), pd.scratchpad_desc(),
                          Port(cpu::desc(gy), pd.diff_dst_desc(), true),
                          Port(plain_weights(g), pd.weights_desc(), true),
                          Port(cpu::desc(*dx), pd.diff_src_desc(), false)};
    });
    dnnl::memory diff_src = bd.diff_src.out(*dx, 3);
    bd.prim.execute(cpu::stream(), {{DNNL_ARG_DIFF_DST, diff_dst(bd.diff_dst, 1)},
                                    {DNNL_ARG_WEIGHTS, bd.weights.in(w, 2)},
                                    {DNNL_ARG_DIFF_SRC, diff_src},
                                    {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(bd.scratchpad, 0)}});
    bd.diff_src.finish(diff_src, *dx);
  }
  if (dw) {
    const bool bias = db != nullptr;
    auto& bw = cpu::cached<BackwardWeights>(cpu::key("conv_bwd_weights", g.key, bias, int(x.memory_format()),
                                                     int(gy.memory_format())), [&] {
      using D = dnnl::convolution_backward_weights::desc;
      using PD = dnnl::convolution_backward_weights::primitive_desc;
      auto src = x_desc(g), wei = any_desc(g.w_dims), dst = y_desc(g);
      PD pd = first_available<PD>(g, [&](dnnl::algorithm alg) {
        D d = bias ? D(alg, src, wei, cpu::plain_desc({g.y[1]}), dst, g.strides, g.dilates, g.pad_l, g.pad_r)
                   : D(alg, src, wei, dst, g.strides, g.dilates, g.pad_l, g.pad_r);
        return PD(d, user_scratchpad(), cpu::engine(), training_pd(alg, bias));
      });
      return BackwardWeights{dnnl::convolution_backward_weights(pd), pd.scratchpad_desc(),
                             Port(cpu::desc(x), pd.src_desc(), true),
                             Port(cpu::desc(gy), pd.diff_dst_desc(), true),
                             Port(plain_weights(g), pd.diff_weights_desc(), false)};
    });
    *dw = Tensor::empty(g.w);
    dnnl::memory diff_weights = bw.diff_weights.out(*dw, 6);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, bw.src.in(x, 4)},
                                               {DNNL_ARG_DIFF_DST, diff_dst(bw.diff_dst, 5)},
                                               {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                                               {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(bw.scratchpad, 0)}};
    if (bias) {
      *db = Tensor::empty({g.y[1]});
      args[DNNL_ARG_DIFF_BIAS] = cpu::memory(*db);
    }
    bw.prim.execute(cpu::stream(), args);
    bw.diff_weights.finish(diff_weights, *dw);
  } else if (db) {
    *db = Tensor::empty({g.y[1]});
    sum_except_dim1(gy.contiguous(), *db);
  }
}

}  // namespace nf::cpu
