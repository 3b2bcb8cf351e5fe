// add / relu / mul_scalar: forward and backward. CPU through oneDNN's binary and
// eltwise primitives (backends/cpu/eltwise); CUDA through the flat F32
// kernels of backends/cuda/eltwise. relu's backward uses its output
// (relu_use_dst). Outputs keep the first input's memory format (NCHW, NHWC or nChw16c); a second
// operand in another format is converted to it, so the kernels see n dense elements.
// add is also autograd's gradient sum (registered with set_grad_sum below it).
#include "framework/ops/eltwise.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/eltwise.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/eltwise.h"

namespace nf::ops {

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  check_same_device("add", {a_in, b_in});
  NF_CHECK(a_in.shape() == b_in.shape(), "add: shapes " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  Tensor a = a_in.dense_or_blocked(), b = b_in.contiguous(a.memory_format());
  Tensor out = Tensor::empty_like(a);
  switch (a.device().type) {
    case DeviceType::CPU: cpu::eltwise_add(a, b, out); break;
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

// backward() sums the gradients that meet with add (autograd.h: autograd calls no op).
[[maybe_unused]] const bool kGradSumRegistered = (set_grad_sum(&add), true);

Tensor relu(const Tensor& x_in) {
  Tensor x = x_in.dense_or_blocked();
  Tensor y = Tensor::empty_like(x);
  switch (x.device().type) {
    case DeviceType::CPU: cpu::eltwise_relu(x, y); break;
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
      case DeviceType::CPU: cpu::eltwise_relu_backward(y_saved, g, dx); break;
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
    case DeviceType::CPU: cpu::eltwise_scale(x, s, y); break;
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
