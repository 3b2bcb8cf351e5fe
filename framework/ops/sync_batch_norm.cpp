// sync_batch_norm: forward and backward over the ranks of a group (see sync_batch_norm.h),
// on the backends' BatchNorm halves (batch_norm_moments/set_stats, grad_sums/apply in
// framework/backends/{cpu,cuda}/batch_norm.h), chosen by one device switch.
#include "framework/ops/sync_batch_norm.h"

#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/batch_norm.h"
#include "framework/backends/cuda/batch_norm.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

// One backend's entry points.
struct Kernels {
  decltype(&cpu::batch_norm_moments) moments;
  decltype(&cpu::batch_norm_set_stats) set_stats;
  decltype(&cpu::batch_norm_apply) apply;
  decltype(&cpu::batch_norm_grad_sums) grad_sums;
  decltype(&cpu::batch_norm_grad_apply) grad_apply;
};
Kernels kernels_for(const Tensor& x) {
  switch (x.device().type) {
    case DeviceType::CPU:
      return {cpu::batch_norm_moments, cpu::batch_norm_set_stats, cpu::batch_norm_apply, cpu::batch_norm_grad_sums,
              cpu::batch_norm_grad_apply};
    case DeviceType::CUDA:
      return {cuda::batch_norm_moments, cuda::batch_norm_set_stats, cuda::batch_norm_apply, cuda::batch_norm_grad_sums,
              cuda::batch_norm_grad_apply};
  }
  unsupported_device("sync_batch_norm", x);
}

// This rank's vector `mine`, gathered from every rank: rank r's at [r * size, (r + 1) * size).
std::vector<double> gather(const Collective& group, const std::vector<double>& mine) {
  std::vector<double> all(mine.size() * group.size());
  group.allgather(mine.data(), static_cast<int64_t>(mine.size()), all.data());
  return all;
}

}  // namespace

Tensor sync_batch_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, BatchNormState& state,
                       std::optional<double> momentum, double eps, const BatchNormFusion& fuse,
                       const Collective& group) {
  check_batch_norm_inputs(x_in, weight_in, bias_in, state, true, fuse.residual);
  const Kernels k = kernels_for(x_in);
  const int64_t C = x_in.size(1);
  const MemoryFormat layout = channel_rows_format(x_in);
  Tensor x = x_in.contiguous(layout).detach();
  Tensor res = fuse.residual.defined() ? fuse.residual.contiguous(layout).detach() : Tensor();
  Tensor w = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  Tensor b = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();

  // [n_r, mean_r[C], var_r[C]] of every rank -> the global moments, in rank order.
  std::vector<double> mine(1 + 2 * C), mean(C, 0.0), var(C, 0.0), local_mean, local_var;
  k.moments(x, local_mean, local_var);
  mine[0] = static_cast<double>(x.numel() / C);
  std::copy(local_mean.begin(), local_mean.end(), mine.begin() + 1);
  std::copy(local_var.begin(), local_var.end(), mine.begin() + 1 + C);
  const std::vector<double> all = gather(group, mine);
  double n = 0;
  for (int r = 0; r < group.size(); ++r) n += all[r * (1 + 2 * C)];
  for (int r = 0; r < group.size(); ++r) {
    const double* row = &all[r * (1 + 2 * C)];
    for (int64_t c = 0; c < C; ++c) mean[c] += row[0] * row[1 + c] / n;
  }
  for (int r = 0; r < group.size(); ++r) {
    const double* row = &all[r * (1 + 2 * C)];
    for (int64_t c = 0; c < C; ++c) {
      const double d = row[1 + c] - mean[c];
      var[c] += row[0] * (row[1 + C + c] + d * d) / n;
    }
  }
  const bool tracked = state.running_mean.defined();
  const double f = tracked ? advance_batch_count(state.num_batches_tracked, momentum) : 0.0;
  Tensor mean_f = Tensor::empty({C}, DType::F32, x.device()), var_f = Tensor::empty({C}, DType::F32, x.device());
  k.set_stats(mean, var, static_cast<int64_t>(n), mean_f, var_f, state.running_mean, state.running_var, f);
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device(), layout);
  k.apply(x, w, b, mean_f, var_f, eps, res, fuse.relu, y);
  if (!needs_grad({x_in, weight_in, bias_in, fuse.residual})) return y;

  const bool need_dx = x_in.requires_grad();
  const bool need_dw = weight_in.defined() && weight_in.requires_grad();
  const bool need_db = bias_in.defined() && bias_in.requires_grad();
  const bool need_dres = fuse.residual.defined() && fuse.residual.requires_grad();
  const bool relu = fuse.relu;
  const Tensor y_relu = relu ? y.detach() : Tensor();
  auto backward = [=, &group](const Tensor& g_in) {
    Tensor g = g_in.contiguous(layout);
    auto make = [&](bool need, const Shape& s, MemoryFormat format) {
      return need ? Tensor::empty(s, DType::F32, x.device(), format) : Tensor();
    };
    Tensor dx = make(need_dx, x.shape(), layout), dw = make(need_dw, {C}, MemoryFormat::Contiguous),
           db = make(need_db, {C}, MemoryFormat::Contiguous), dres = make(need_dres && relu, x.shape(), layout);
    // Every rank takes part in the gather, whatever it needs itself.
    const BatchNormGradSums local = k.grad_sums(x, g, y_relu, mean_f, dres);
    std::vector<double> sums(2 * C);
    std::copy(local.dy.begin(), local.dy.end(), sums.begin());
    std::copy(local.dy_xmu.begin(), local.dy_xmu.end(), sums.begin() + C);
    const std::vector<double> every = gather(group, sums);
    BatchNormGradSums total{std::vector<double>(C, 0.0), std::vector<double>(C, 0.0)};
    for (int r = 0; r < group.size(); ++r)
      for (int64_t c = 0; c < C; ++c) {
        total.dy[c] += every[r * 2 * C + c];
        total.dy_xmu[c] += every[r * 2 * C + C + c];
      }
    k.grad_apply(x, g, y_relu, w, mean_f, var_f, eps, true, local, total, n, dx, dw, db);
    if (need_dres && !relu) dres = g;
    return std::vector<Tensor>{dx, dw, db, dres};
  };
  return record(y, "sync_batch_norm", {x_in, weight_in, bias_in, fuse.residual}, backward);
}

}  // namespace nf::ops
