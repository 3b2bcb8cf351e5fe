// add / relu / mul_scalar: forward and backward. CPU through oneDNN's binary and
// eltwise primitives (cached by shape and memory format); CUDA through the flat F32
// kernels of backends/cuda/eltwise_kernels. relu's backward uses its output
// (relu_use_dst). Outputs keep the first input's memory format (NCHW, NHWC or nChw16c); a second
// operand in another format is converted to it, so the kernels see n dense elements.
#include "framework/ops/eltwise.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/eltwise.h"

namespace nf::ops {

namespace {

// out = alpha * x (+ beta), oneDNN eltwise linear.
void cpu_linear(const Tensor& x, Tensor& out, float alpha, float beta) {
  auto& p = cpu::cached<dnnl::eltwise_forward>(cpu::key("linear", x.shape(), int(x.memory_format()), alpha, beta), [&] {
    auto md = cpu::desc(x);
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_linear, md, alpha, beta);
    return dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, cpu::engine()));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(x)}, {DNNL_ARG_DST, cpu::memory(out)}});
}

}  // namespace

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  check_same_device("add", {a_in, b_in});
  NF_CHECK(a_in.shape() == b_in.shape(), "add: shapes " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  Tensor a = a_in.dense_or_blocked(), b = b_in.contiguous(a.memory_format());
  Tensor out = Tensor::empty_like(a);
  switch (a.device().type) {
    case DeviceType::CPU: {
      auto& p = cpu::cached<dnnl::binary>(cpu::key("add", a.shape(), int(a.dtype()), int(a.memory_format())), [&] {
        auto md = cpu::desc(a);
        dnnl::binary::desc d(dnnl::algorithm::binary_add, md, md, md);
        return dnnl::binary(dnnl::binary::primitive_desc(d, cpu::engine()));
      });
      p.execute(cpu::stream(), {{DNNL_ARG_SRC_0, cpu::memory(a)}, {DNNL_ARG_SRC_1, cpu::memory(b)},
                                {DNNL_ARG_DST, cpu::memory(out)}});
      break;
    }
    case DeviceType::CUDA: {
      check_dtype("add", a, DType::F32);
      cuda::Scope scope(a.device());
      cuda::eltwise_add(a.data<float>(), b.data<float>(), out.data<float>(), a.numel());
      break;
    }
    default: unsupported_device("add", a);
  }
  return record(out, "add", {a_in, b_in}, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
}

Tensor relu(const Tensor& x_in) {
  Tensor x = x_in.dense_or_blocked();
  Tensor y = Tensor::empty_like(x);
  switch (x.device().type) {
    case DeviceType::CPU: {
      auto& p = cpu::cached<dnnl::eltwise_forward>(cpu::key("relu_fwd", x.shape(), int(x.memory_format())), [&] {
        dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                                      cpu::desc(x), 0.f, 0.f);
        return dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, cpu::engine()));
      });
      p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(x)}, {DNNL_ARG_DST, cpu::memory(y)}});
      break;
    }
    case DeviceType::CUDA: {
      check_dtype("relu", x, DType::F32);
      cuda::Scope scope(x.device());
      cuda::eltwise_relu(x.data<float>(), y.data<float>(), x.numel());
      break;
    }
    default: unsupported_device("relu", x);
  }
  Tensor y_saved = y.detach();
  return record(y, "relu", {x_in}, [y_saved](const Tensor& g_in) {
    Tensor g = g_in.contiguous(y_saved.memory_format());
    Tensor dx = Tensor::empty_like(y_saved);
    switch (g.device().type) {
      case DeviceType::CPU: {
        auto& p = cpu::cached<dnnl::eltwise_backward>(cpu::key("relu_bwd", g.shape(), int(g.memory_format())), [&] {
          auto md = cpu::desc(g);
          dnnl::eltwise_forward::desc fd(dnnl::prop_kind::forward_training,
                                         dnnl::algorithm::eltwise_relu_use_dst_for_bwd, md, 0.f, 0.f);
          dnnl::eltwise_forward::primitive_desc fpd(fd, cpu::engine());
          dnnl::eltwise_backward::desc d(dnnl::algorithm::eltwise_relu_use_dst_for_bwd, md, md, 0.f, 0.f);
          return dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(d, cpu::engine(), fpd));
        });
        p.execute(cpu::stream(), {{DNNL_ARG_DST, cpu::memory(y_saved)},
                                  {DNNL_ARG_DIFF_DST, cpu::memory(g)},
                                  {DNNL_ARG_DIFF_SRC, cpu::memory(dx)}});
        break;
      }
      case DeviceType::CUDA: {
        cuda::Scope scope(g.device());
        cuda::eltwise_relu_backward(y_saved.data<float>(), g.data<float>(), dx.data<float>(), g.numel());
        break;
      }
      default: unsupported_device("relu backward", g);
    }
    return std::vector<Tensor>{dx};
  });
}

Tensor mul_scalar(const Tensor& x_in, float s) {
  Tensor x = x_in.dense_or_blocked();
  Tensor y = Tensor::empty_like(x);
  switch (x.device().type) {
    case DeviceType::CPU: cpu_linear(x, y, s, 0.f); break;
    case DeviceType::CUDA: {
      check_dtype("mul_scalar", x, DType::F32);
      cuda::Scope scope(x.device());
      cuda::eltwise_scale(x.data<float>(), s, y.data<float>(), x.numel());
      break;
    }
    default: unsupported_device("mul_scalar", x);
  }
  return record(y, "mul_scalar", {x_in}, [s](const Tensor& g) { return std::vector<Tensor>{mul_scalar(g, s)}; });
}

}  // namespace nf::ops
