// instance_norm (see instance_norm.h): group_norm with a group per channel, or
// batch_norm's inference form; the running statistics' update. No kernels of its own:
// both devices run group_norm's and batch_norm's.
#include "framework/ops/instance_norm.h"

#include <algorithm>
#include <string>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/dispatch.h"
#include "framework/ops/group_norm.h"

namespace nf::ops {

namespace {

// running = (1 - momentum) * running + momentum * mean_n(scale * stat[n, c]), in double.
void blend(const Tensor& running, const Tensor& stat, double scale, double momentum) {
  const int64_t N = stat.size(0), C = stat.size(1);
  const std::vector<float> s = stat.to_vector(), r = running.to_vector();
  std::vector<float> out(C);
  for (int64_t c = 0; c < C; ++c) {
    double m = 0;
    for (int64_t n = 0; n < N; ++n) m += s[n * C + c];
    out[c] = static_cast<float>((1 - momentum) * r[c] + momentum * scale * m / N);
  }
  Tensor dst = running;
  dst.copy_(Tensor::from_vector(out, {C}).to(running.device()));
}

}  // namespace

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const BatchNormState& state,
                     bool use_input_stats, double momentum, double eps) {
  NF_CHECK(x.dim() == 3 || x.dim() == 4, "instance_norm: expected input [N, C, L] or [N, C, H, W], got " + x.str());
  check_same_device("instance_norm", {x, weight, bias, state.running_mean, state.running_var});
  if (!use_input_stats) {  // batch_norm checks the statistics
    BatchNormState running = state;
    return batch_norm(x, weight, bias, running, false, momentum, eps);
  }
  const int64_t C = x.size(1), S = x.numel() / std::max<int64_t>(1, x.size(0) * C);
  NF_CHECK(S > 1, "instance_norm: expected more than 1 spatial element per channel, got input " + shape_str(x.shape()));
  check_channel_vector("instance_norm", x, state.running_mean, "running_mean", C);
  check_channel_vector("instance_norm", x, state.running_var, "running_var", C);
  NF_CHECK(state.running_mean.defined() == state.running_var.defined(),
           "instance_norm: running_mean and running_var are given together or not at all");
  if (!state.running_mean.defined()) return group_norm(x, C, weight, bias, eps);
  GroupNormStats stats;
  Tensor y = group_norm(x, C, weight, bias, eps, &stats);
  NoGradGuard no_grad;
  blend(state.running_mean, stats.mean, 1.0, momentum);
  blend(state.running_var, stats.var, static_cast<double>(S) / (S - 1), momentum);
  return y;
}

}  // namespace nf::ops
