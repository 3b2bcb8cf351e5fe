// conv2d: forward, backward-data, backward-weights (+ bias). CPU through oneDNN's
// convolution primitives, in the layouts CpuConvAlgorithm picks (conv.h): channels-last
// (Direct), or blocked nChw16c with Winograd where eligible (Winograd). y and dx are
// produced in that layout and an x or dy already in it is used as is, so a chain of
// convs, BNs, ReLUs and adds runs with no reorder; other inputs (the NCHW images) are
// reordered into a scratch buffer. Weights stay OIHW in the Tensor and are reordered
// into the primitive's layout (format_tag::any) per call (they are small).
// Every primitive and reorder is cached by geometry, algorithm and input layouts, so a
// steady-state training step builds nothing.
// Scratch slots: 0 primitive scratchpads; 1..6 temporary blocked tensors of one call.
// CUDA through cuDNN (backends/cuda/conv_cudnn.h): activations and gradients stay in the
// input's memory format, the weights are handed over in the matching filter layout (OIHW
// or KRSC), the bias and the inference epilogue are one elementwise pass over y.
#include "framework/ops/conv.h"
#include "framework/ops/reduce.h"

#include <unordered_map>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/dispatch.h"
#include "framework/backends/cuda/conv.h"

namespace nf::ops {

namespace {

using dnnl::memory;

CpuConvAlgorithm g_cpu_algorithm = CpuConvAlgorithm::Winograd;
// Under Winograd, activations with fewer channels stay channels-last: there oneDNN's
// direct NHWC kernels beat both its Winograd and its blocked direct ones (16 channels:
// 9.3 against 10.4 ms for forward + backward of a ResNet-20 stage-1 conv at batch 128).
constexpr int64_t kMinBlockedChannels = 32;

// Shapes and oneDNN parameters of one convolution; `key` names them all.
struct Geometry {
  Shape x, w, y;
  Shape w_dims;  // oneDNN weights: [O, C/G, KH, KW], or [G, O/G, C/G, KH, KW] when grouped
  memory::dims strides, dilates, pad_l, pad_r;
  // CPU: the layouts of x (and dx) and y, and whether Winograd is worth trying.
  MemoryFormat x_format = MemoryFormat::ChannelsLast, y_format = MemoryFormat::ChannelsLast;
  bool winograd = false;
  std::string key;
};

Geometry geometry(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  check_dtype("conv2d", x, DType::F32);
  check_dtype("conv2d", w, DType::F32);
  NF_CHECK(x.dim() == 4, "conv2d: input must be [N, C, H, W], got " + shape_str(x.shape()));
  NF_CHECK(w.dim() == 4, "conv2d: weight must be [O, C/groups, KH, KW], got " + shape_str(w.shape()));
  NF_CHECK(p.groups >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 &&
               p.pad_h >= 0 && p.pad_w >= 0,
           "conv2d: need groups, stride, dilation >= 1 and padding >= 0, got groups=" + std::to_string(p.groups) +
               " stride=(" + std::to_string(p.stride_h) + ", " + std::to_string(p.stride_w) + ") dilation=(" +
               std::to_string(p.dilation_h) + ", " + std::to_string(p.dilation_w) + ") padding=(" +
               std::to_string(p.pad_h) + ", " + std::to_string(p.pad_w) + ")");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), KH = w.size(2), KW = w.size(3), G = p.groups;
  const std::string shapes = "input " + shape_str(x.shape()) + ", weight " + shape_str(w.shape()) +
                             ", groups=" + std::to_string(G);
  NF_CHECK(C % G == 0 && O % G == 0, "conv2d: channels must be divisible by groups: " + shapes);
  NF_CHECK(w.size(1) * G == C, "conv2d: input has " + std::to_string(C) + " channels, weight expects " +
                                   std::to_string(w.size(1) * G) + ": " + shapes);
  if (b.defined()) {
    check_dtype("conv2d", b, DType::F32);
    NF_CHECK(b.shape() == Shape{O}, "conv2d: bias must be [" + std::to_string(O) + "], got " + shape_str(b.shape()));
  }
  const int64_t ext_h = p.dilation_h * (KH - 1) + 1, ext_w = p.dilation_w * (KW - 1) + 1;
  NF_CHECK(ext_h <= H + 2 * p.pad_h && ext_w <= W + 2 * p.pad_w,
           "conv2d: kernel (dilated " + std::to_string(ext_h) + "x" + std::to_string(ext_w) +
               ") is larger than the padded input (" + std::to_string(H + 2 * p.pad_h) + "x" +
               std::to_string(W + 2 * p.pad_w) + "): " + shapes);
  Geometry g;
  g.x = x.shape();
  g.w = w.shape();
  g.y = {N, O, (H + 2 * p.pad_h - ext_h) / p.stride_h + 1, (W + 2 * p.pad_w - ext_w) / p.stride_w + 1};
  g.w_dims = G == 1 ? g.w : Shape{G, O / G, C / G, KH, KW};
  g.strides = {p.stride_h, p.stride_w};
  g.dilates = {p.dilation_h - 1, p.dilation_w - 1};  // oneDNN counts the gaps
  g.pad_l = g.pad_r = {p.pad_h, p.pad_w};
  if (g_cpu_algorithm == CpuConvAlgorithm::Winograd && cpu::avx512_kernels()) {
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

memory::desc any_desc(const memory::dims& d) {
  return memory::desc(d, memory::data_type::f32, memory::format_tag::any);
}
// The primitive's x (and dx) and y layouts. An x that is not blocked feeding a blocked
// y (the images, a 16-channel stage into a 32-channel one) is left to oneDNN (`any`, and
// reordered by the Port): its direct kernels have nothing but reference code from NHWC
// into nChw16c.
memory::desc x_desc(const Geometry& g) {
  if (g.x_format != MemoryFormat::Blocked16 && g.y_format == MemoryFormat::Blocked16)
    return any_desc(cpu::dims(g.x));
  return cpu::desc(g.x, g.x_format);
}
memory::desc y_desc(const Geometry& g) { return cpu::desc(g.y, g.y_format); }
memory::desc plain_weights(const Geometry& g) { return cpu::plain_desc(g.w_dims); }

// Winograd where eligible and oneDNN has a kernel for it, else direct.
template <class PrimitiveDesc, class Make>
PrimitiveDesc first_available(const Geometry& g, const Make& make) {
  if (g.winograd) {
    try {
      return make(dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
    }
  }
  return make(dnnl::algorithm::convolution_direct);
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
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

dnnl::convolution_forward::desc forward_desc(const Geometry& g, dnnl::prop_kind prop, dnnl::algorithm alg,
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

// The epilogue of an inference convolution: y += previous y (the residual copied in
// first), then relu.
struct PostOps {
  bool sum = false, relu = false;
};

dnnl::primitive_attr forward_attr(const PostOps& post) {
  dnnl::primitive_attr attr = user_scratchpad();
  dnnl::post_ops ops;
  if (post.sum) ops.append_sum(1.f);
  if (post.relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  return attr;
}

// y must already hold the residual when post.sum.
void cpu_forward(const Geometry& g, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, bool training,
                 const PostOps& post = {}) {
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
  memory dst = f.dst.out(y, 3);
  NF_CHECK(f.dst.same || !post.sum, "conv2d: a fused residual needs the primitive to write y in place");
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, f.src.in(x, 1)},
                                       {DNNL_ARG_WEIGHTS, f.weights.in(w, 2)},
                                       {DNNL_ARG_DST, dst},
                                       {DNNL_ARG_SCRATCHPAD, cpu::scratch_memory(f.scratchpad, 0)}};
  if (bias) args[DNNL_ARG_BIAS] = cpu::memory(b);
  f.prim.execute(cpu::stream(), args);
  f.dst.finish(dst, y);
}

// dx = conv_transpose(gy, w); dw (+ db) = correlation of x with gy. Only the gradients
// asked for are computed; db alone (frozen weight) is a plain reduction.
void cpu_backward(const Geometry& g, const Tensor& x, const Tensor& w, const Tensor& gy, Tensor* dx, Tensor* dw,
                  Tensor* db) {
  auto training_pd = [&](dnnl::algorithm alg, bool bias) {
    return dnnl::convolution_forward::primitive_desc(forward_desc(g, dnnl::prop_kind::forward_training, alg, bias),
                                                     cpu::engine());
  };
  memory gy_blocked;  // diff_dst in the layout of the last primitive that used it
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
    memory diff_src = bd.diff_src.out(*dx, 3);
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
    memory diff_weights = bw.diff_weights.out(*dw, 6);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, bw.src.in(x, 4)},
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
    *db = sum_except_dim1(gy);
  }
}

// ---- CUDA (cuDNN) -------------------------------------------------------------------

cuda::ConvShape cuda_shape(const Geometry& g, const Conv2dParams& p, MemoryFormat f) {
  return {g.x, g.w, p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, p.groups, f};
}

// Only the gradients asked for are computed. gy is brought to x's memory format; dw is
// computed in the filter layout of that format and returned OIHW.
void cuda_backward(const cuda::ConvShape& s, const Tensor& x, const Tensor& w, const Tensor& gy_in, Tensor* dx,
                   Tensor* dw, Tensor* db) {
  Tensor gy = gy_in.contiguous(s.format);
  if (dx) {
    *dx = Tensor::empty(s.x, DType::F32, gy.device(), s.format);
    cuda::conv_backward_data(s, w, gy, *dx);
  }
  if (dw) {
    Tensor dw_f = Tensor::empty(s.w, DType::F32, gy.device(), s.format);
    cuda::conv_backward_filter(s, x, gy, dw_f);
    *dw = dw_f.contiguous();
  }
  if (db) {
    *db = Tensor::empty({s.w[0]}, DType::F32, gy.device());
    cuda::conv_backward_bias(s, gy, *db);
  }
}

// Memory formats per device: CPU (oneDNN) writes the geometry's layout (channels-last or
// blocked) and takes OIHW weights; CUDA (cuDNN) keeps the input's format, with the weights
// in the matching filter layout (KRSC for NHWC).
MemoryFormat output_format(const Tensor& x, const Geometry& g) {
  return x.device().is_cpu() ? g.y_format : x.memory_format();
}
MemoryFormat weight_format(const Tensor& x) {
  return x.device().is_cpu() ? MemoryFormat::Contiguous : x.memory_format();
}

}  // namespace

void set_cpu_conv_algorithm(CpuConvAlgorithm a) { g_cpu_algorithm = a; }
CpuConvAlgorithm cpu_conv_algorithm() { return g_cpu_algorithm; }

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& p) {
  check_same_device("conv2d", {x_in, w_in, b_in});
  const Geometry g = geometry(x_in, w_in, b_in, p);
  Tensor x = x_in.dense_or_blocked(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor w = w_in.contiguous(weight_format(x));
  const bool training = needs_grad({x_in, w_in, b_in});
  const MemoryFormat f = output_format(x, g);
  Tensor y = Tensor::empty(g.y, x.dtype(), x.device(), f);
  switch (x.device().type) {
    case DeviceType::CPU: cpu_forward(g, x, w, b, y, training); break;
    case DeviceType::CUDA:
      cuda::conv_forward(cuda_shape(g, p, f), x, w, y);
      if (b.defined()) cuda::conv_epilogue(y, f, b, Tensor(), false);
      break;
    default: unsupported_device("conv2d", x);
  }
  if (!training) return y;
  const bool need_dx = x_in.requires_grad(), need_dw = w_in.requires_grad();
  const bool need_db = b_in.defined() && b_in.requires_grad();
  // Keep only what the wanted gradients read: dx needs w, dw needs x.
  Tensor x_saved = need_dw ? x.detach() : Tensor(), w_saved = need_dx ? w.detach() : Tensor();
  return record(y, "conv2d", {x_in, w_in, b_in}, [=](const Tensor& gy_in) {
    Tensor dx, dw, db;
    Tensor* dx_p = need_dx ? &dx : nullptr;
    Tensor* dw_p = need_dw ? &dw : nullptr;
    Tensor* db_p = need_db ? &db : nullptr;
    switch (gy_in.device().type) {
      case DeviceType::CPU: cpu_backward(g, x_saved, w_saved, gy_in.dense_or_blocked(), dx_p, dw_p, db_p); break;
      case DeviceType::CUDA: cuda_backward(cuda_shape(g, p, f), x_saved, w_saved, gy_in, dx_p, dw_p, db_p); break;
      default: unsupported_device("conv2d backward", gy_in);
    }
    return std::vector<Tensor>{dx, dw, db};
  });
}

Tensor conv2d_inference(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& p,
                        const Tensor& residual, bool relu) {
  check_same_device("conv2d", {x_in, w_in, b_in, residual});
  NF_CHECK(!needs_grad({x_in, w_in, b_in, residual}), "conv2d_inference: inputs require grad; use conv2d");
  const Geometry g = geometry(x_in, w_in, b_in, p);
  Tensor x = x_in.dense_or_blocked(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor w = w_in.contiguous(weight_format(x));
  const MemoryFormat f = output_format(x, g);
  Tensor y = Tensor::empty(g.y, x.dtype(), x.device(), f);
  if (residual.defined())
    NF_CHECK(residual.shape() == g.y, "conv2d: residual " + shape_str(residual.shape()) + " for output " +
                                          shape_str(g.y));
  switch (x.device().type) {
    case DeviceType::CPU:
      if (residual.defined()) y.copy_(residual);  // the sum post-op adds y's previous content
      cpu_forward(g, x, w, b, y, false, {residual.defined(), relu});
      break;
    case DeviceType::CUDA:
      cuda::conv_forward(cuda_shape(g, p, f), x, w, y);
      if (b.defined() || residual.defined() || relu)
        cuda::conv_epilogue(y, f, b, residual.defined() ? residual.contiguous(f) : Tensor(), relu);
      break;
    default: unsupported_device("conv2d", x);
  }
  return y;
}

}  // namespace nf::ops
