// group_norm and layer_norm: forward and backward. One device-independent frame
// (checks, layout, the statistics the backward keeps: mean and rstd [N, groups], the
// autograd closure) with one branch per device; layer_norm checks its [N, F] input and
// runs group_norm with one group.
// CPU (framework/backends/cpu/group_norm.h): kernels over rows with the channel
// innermost; a blocked input stays blocked, others are converted to channels-last; y
// takes that format. Sums in double, as BatchNorm's.
// CUDA (framework/backends/cuda/group_norm.h): one block per (sample, group) reduction
// in double, then elementwise passes, on x in its own dense format (NCHW or
// channels-last); y and the gradient have that format.
#include "framework/ops/group_norm.h"

#include <string>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/group_norm.h"
#include "framework/backends/cuda/group_norm.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

void check_inputs(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias) {
  NF_CHECK(x.dim() >= 2 && x.dim() <= 4,
           "group_norm: expected input [N, C], [N, C, L] or [N, C, H, W], got " + x.str());
  check_dtype("group_norm", x, DType::F32);
  check_same_device("group_norm", {x, weight, bias});
  NF_CHECK(x.numel() > 0, "group_norm: empty input " + shape_str(x.shape()));
  const int64_t C = x.size(1);
  NF_CHECK(groups >= 1 && C % groups == 0, "group_norm: the " + std::to_string(C) + " channels of input " +
                                               shape_str(x.shape()) + " do not divide into " +
                                               std::to_string(groups) + " groups");
  check_channel_vector("group_norm", x, weight, "weight", C);
  check_channel_vector("group_norm", x, bias, "bias", C);
}

}  // namespace

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  return group_norm(x, groups, weight, bias, eps, nullptr);
}

Tensor group_norm(const Tensor& x_in, int64_t groups, const Tensor& weight_in, const Tensor& bias_in, double eps,
                  GroupNormStats* stats) {
  check_inputs(x_in, groups, weight_in, bias_in);
  const int64_t N = x_in.size(0), C = x_in.size(1);
  const MemoryFormat layout = channel_rows_format(x_in);
  Tensor x = x_in.contiguous(layout).detach();
  Tensor w = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  Tensor b = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device(), layout);
  Tensor mean = Tensor::empty({N, groups}, DType::F32, x.device());
  Tensor rstd = Tensor::empty({N, groups}, DType::F32, x.device());
  Tensor var = stats ? Tensor::empty({N, groups}, DType::F32, x.device()) : Tensor();
  switch (x.device().type) {
    case DeviceType::CPU: cpu::group_norm_forward(x, groups, w, b, eps, y, mean, rstd, var); break;
    case DeviceType::CUDA: cuda::group_norm_forward(x, groups, w, b, eps, y, mean, rstd, var); break;
    default: unsupported_device("group_norm", x);
  }
  if (stats) *stats = {mean, var};
  if (!needs_grad({x_in, weight_in, bias_in})) return y;

  const bool need_dx = x_in.requires_grad();
  const bool need_dw = weight_in.defined() && weight_in.requires_grad();
  const bool need_db = bias_in.defined() && bias_in.requires_grad();
  auto backward = [=](const Tensor& g_in) {
    Tensor g = g_in.contiguous(layout);
    Tensor dx = need_dx ? Tensor::empty(x.shape(), DType::F32, x.device(), layout) : Tensor();
    Tensor dw = need_dw ? Tensor::empty({C}, DType::F32, x.device()) : Tensor();
    Tensor db = need_db ? Tensor::empty({C}, DType::F32, x.device()) : Tensor();
    switch (x.device().type) {
      case DeviceType::CPU: cpu::group_norm_backward(x, g, groups, w, mean, rstd, dx, dw, db); break;
      case DeviceType::CUDA: cuda::group_norm_backward(x, g, groups, w, mean, rstd, dx, dw, db); break;
      default: unsupported_device("group_norm backward", x);
    }
    return std::vector<Tensor>{dx, dw, db};
  };
  return record(y, "group_norm", {x_in, weight_in, bias_in}, backward);
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  NF_CHECK(x.dim() == 2, "layer_norm: expected input [N, F] (normalized over F), got " + x.str() +
                             "; a LayerNorm over [N, C, H, W] with per-channel affine is group_norm(x, 1, ...)");
  check_channel_vector("layer_norm", x, weight, "weight", x.size(1));
  check_channel_vector("layer_norm", x, bias, "bias", x.size(1));
  return group_norm(x, 1, weight, bias, eps);
}

}  // namespace nf::ops
