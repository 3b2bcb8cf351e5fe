// conv2d: forward, backward-data, backward-weights (+ bias). CPU through oneDNN's
// convolution primitives (backends/cpu/conv.h), in the layouts CpuConvAlgorithm picks
// (conv.h): channels-last (Direct), or blocked nChw16c with Winograd where eligible
// (Winograd); y and dx are produced in that layout, so a chain of convs, BNs, ReLUs and
// adds runs with no reorder.
// CUDA through cuDNN (backends/cuda/conv.h): activations and gradients stay in the
// input's memory format, the weights are handed over in the matching filter layout (OIHW
// or KRSC), the bias and the inference epilogue are one elementwise pass over y.
#include "framework/ops/conv.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/conv.h"
#include "framework/backends/cuda/conv.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

CpuConvAlgorithm g_cpu_algorithm = CpuConvAlgorithm::Winograd;

// Shapes of one convolution, and the CPU's parameters and layouts for it.
using Geometry = cpu::ConvGeometry;

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
  const Shape y{N, O, (H + 2 * p.pad_h - ext_h) / p.stride_h + 1, (W + 2 * p.pad_w - ext_w) / p.stride_w + 1};
  return cpu::conv_geometry(x.shape(), w.shape(), y,
                            {p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, G},
                            g_cpu_algorithm == CpuConvAlgorithm::Winograd);
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
    case DeviceType::CPU: cpu::conv_forward(g, x, w, b, y, training); break;
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
      case DeviceType::CPU:
        cpu::conv_backward(g, x_saved, w_saved, gy_in.dense_or_blocked(), dx_p, dw_p, db_p);
        break;
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
      cpu::conv_forward(g, x, w, b, y, false, {residual.defined(), relu});
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
