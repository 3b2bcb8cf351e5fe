// batch_norm: forward and backward, with the optional fused residual add and ReLU.
// One device-independent frame (checks, layout, the statistics the backward keeps, the
// autograd closure) with one branch per device. Ghost batch norm (virtual_batch) runs the
// device entry points once per group, on views of the group's samples (N is the
// outermost dimension of every layout); without it there is one group, the whole batch.
// CPU (framework/backends/cpu/batch_norm.h): kernels over rows with the channel
// innermost; a blocked input stays blocked, others are converted to channels-last; y
// takes that format. Per-channel sums in double, as PyTorch's CPU kernel.
// CUDA (framework/backends/cuda/batch_norm.h): kernels with the same formulas and
// double sums, on x in its own dense format (NCHW or channels-last); y, the residual and
// the gradient have that format. num_batches_tracked += 1 runs on the device.
#include "framework/ops/batch_norm.h"

#include <algorithm>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/batch_norm.h"
#include "framework/backends/cuda/batch_norm.h"
#include "framework/ops/dispatch.h"
#include "framework/ops/reduce.h"

namespace nf::ops {

namespace {

// The samples [start, start + size) of each group along N (see batch_norm.h): blocks of
// virtual_batch, a last block of one merged into the one before; one group without it.
struct Group {
  int64_t start, size;
};
std::vector<Group> batch_groups(int64_t N, std::optional<int64_t> virtual_batch) {
  const int64_t V = virtual_batch ? std::min(*virtual_batch, N) : N;
  std::vector<Group> groups;
  for (int64_t start = 0; start < N; start += V) groups.push_back({start, std::min(V, N - start)});
  if (groups.size() > 1 && groups.back().size == 1) {
    groups.pop_back();
    groups.back().size += 1;
  }
  return groups;
}

// The factor of group g's blend (of G, in order) such that the G sequential blends
// r = (1 - a_g) r + a_g v_g give r = (1 - f) r + f * mean_g(v_g): each v_g weighs f / G,
// the last one directly; a_g = (f / G) / W_g with W_g = 1 - (G - 1 - g) f / G, the weight
// left to r and the groups before g (1 - a_g = W_{g-1} / W_g telescopes to 1 - f).
// G = 1: a_0 = f exactly.
double group_factor(double f, int64_t g, int64_t G) {
  const double share = f / static_cast<double>(G);
  return share / (1.0 - static_cast<double>(G - 1 - g) * share);
}

}  // namespace

void check_batch_norm_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias, const BatchNormState& s,
                             bool use_batch_stats, const Tensor& residual) {
  NF_CHECK(x.dim() >= 2 && x.dim() <= 4,
           "batch_norm: expected input [N, C], [N, C, L] or [N, C, H, W], got " + x.str());
  check_dtype("batch_norm", x, DType::F32);
  const int64_t C = x.size(1);
  check_same_device("batch_norm", {x, weight, bias, s.running_mean, s.running_var, s.num_batches_tracked});
  check_channel_vector("batch_norm", x, weight, "weight", C);
  check_channel_vector("batch_norm", x, bias, "bias", C);
  check_channel_vector("batch_norm", x, s.running_mean, "running_mean", C);
  check_channel_vector("batch_norm", x, s.running_var, "running_var", C);
  const bool tracked = s.running_mean.defined();
  NF_CHECK(tracked == s.running_var.defined() && tracked == s.num_batches_tracked.defined(),
           "batch_norm: running_mean, running_var and num_batches_tracked must be all defined or all undefined");
  if (tracked) {
    check_dtype("batch_norm", s.num_batches_tracked, DType::I64);
    NF_CHECK(s.num_batches_tracked.numel() == 1,
             "batch_norm: num_batches_tracked must have one element, got " + s.num_batches_tracked.str());
  }
  NF_CHECK(use_batch_stats || tracked, "batch_norm: evaluation with the running statistics needs running_mean/var");
  NF_CHECK(x.numel() > 0, "batch_norm: empty input " + shape_str(x.shape()));
  NF_CHECK(!use_batch_stats || x.numel() / C > 1,
           "Expected more than 1 value per channel when training, got input size " + shape_str(x.shape()));
  if (residual.defined()) {
    check_same_device("batch_norm", {x, residual});
    check_dtype("batch_norm", residual, DType::F32);
    NF_CHECK(residual.shape() == x.shape(), "batch_norm: residual " + shape_str(residual.shape()) +
                                                " does not match the input " + shape_str(x.shape()));
  }
}

// num_batches_tracked += 1 (on its device) and the step's factor f: momentum, or
// 1 / num_batches_tracked (the cumulative average; one synchronizing read on CUDA).
double advance_batch_count(Tensor& num_batches_tracked, std::optional<double> momentum) {
  switch (num_batches_tracked.device().type) {
    case DeviceType::CPU: num_batches_tracked.data<int64_t>()[0] += 1; break;
    case DeviceType::CUDA: cuda::increment_(num_batches_tracked); break;
    default: unsupported_device("batch_norm", num_batches_tracked);
  }
  return momentum ? *momentum : 1.0 / num_batches_tracked.item();
}

void check_virtual_batch(std::optional<int64_t> virtual_batch) {
  NF_CHECK(!virtual_batch || *virtual_batch >= 2,
           "batch_norm: virtual_batch must be at least 2 (a group of one sample has no variance), got " +
               std::to_string(virtual_batch.value_or(0)));
}

Tensor batch_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, BatchNormState& state,
                  bool use_batch_stats, std::optional<double> momentum, double eps, const BatchNormFusion& fuse,
                  std::optional<int64_t> virtual_batch) {
  check_batch_norm_inputs(x_in, weight_in, bias_in, state, use_batch_stats, fuse.residual);
  check_virtual_batch(virtual_batch);
  const Tensor& res_in = fuse.residual;
  const int64_t C = x_in.size(1);
  // Evaluation normalizes each sample alone: one group, whatever virtual_batch says.
  const std::vector<Group> groups = batch_groups(x_in.size(0), use_batch_stats ? virtual_batch : std::nullopt);
  const int64_t G = static_cast<int64_t>(groups.size());
  const bool tracked = use_batch_stats && state.running_mean.defined();
  NF_CHECK(!tracked || G == 1 || !momentum || (*momentum >= 0 && *momentum <= 1),
           "batch_norm: virtual_batch needs a momentum in [0, 1], got " + std::to_string(momentum.value_or(0)));
  const MemoryFormat layout = channel_rows_format(x_in);
  Tensor x = x_in.contiguous(layout).detach();
  Tensor res = res_in.defined() ? res_in.contiguous(layout).detach() : Tensor();
  Tensor w = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  Tensor b = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();
  const bool grad = needs_grad({x_in, weight_in, bias_in, res_in});
  // The slice of an [N, ...] tensor (or undefined) for group g; row g of a [G, C] one as [C].
  auto part = [groups](const Tensor& t, int64_t g) {
    return t.defined() ? t.narrow_batch(groups[g].start, groups[g].size) : Tensor();
  };
  auto row = [C](const Tensor& t, int64_t g) { return t.narrow_batch(g, 1).view({C}); };

  // Statistics used to normalize, [G, C]: fresh ones per group, or a snapshot of the
  // running ones (the backward must see what the forward saw).
  Tensor mean, var;
  if (use_batch_stats) {
    mean = Tensor::empty({G, C}, DType::F32, x.device());
    var = Tensor::empty({G, C}, DType::F32, x.device());
  } else {
    mean = (grad ? state.running_mean.clone() : state.running_mean.contiguous().detach()).view({1, C});
    var = (grad ? state.running_var.clone() : state.running_var.contiguous().detach()).view({1, C});
  }
  const double f = tracked ? advance_batch_count(state.num_batches_tracked, momentum) : 0.0;  // 0: unused
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device(), layout);
  for (int64_t g = 0; g < G; ++g) {
    Tensor xg = part(x, g), yg = part(y, g), mean_g = row(mean, g), var_g = row(var, g);
    const double a = group_factor(f, g, G);
    switch (x.device().type) {
      case DeviceType::CPU:
        if (use_batch_stats) cpu::batch_norm_stats(xg, mean_g, var_g, state.running_mean, state.running_var, a);
        cpu::batch_norm_apply(xg, w, b, mean_g, var_g, eps, part(res, g), fuse.relu, yg);
        break;
      case DeviceType::CUDA:
        if (use_batch_stats) cuda::batch_norm_stats(xg, mean_g, var_g, state.running_mean, state.running_var, a);
        cuda::batch_norm_apply(xg, w, b, mean_g, var_g, eps, part(res, g), fuse.relu, yg);
        break;
      default: unsupported_device("batch_norm", x);
    }
  }
  if (!grad) return y;

  const bool need_dx = x_in.requires_grad();
  const bool need_dw = weight_in.defined() && weight_in.requires_grad();
  const bool need_db = bias_in.defined() && bias_in.requires_grad();
  const bool need_dres = res_in.defined() && res_in.requires_grad();
  const Tensor y_relu = fuse.relu ? y.detach() : Tensor();
  auto backward = [=](const Tensor& g_in) {
    Tensor g = g_in.contiguous(layout);
    auto make = [&](bool need, const Shape& s, MemoryFormat format) {
      return need ? Tensor::empty(s, DType::F32, x.device(), format) : Tensor();
    };
    // dweight/dbias per group as rows of [G, C], summed over the groups below.
    Tensor dx = make(need_dx, x.shape(), layout);
    Tensor dw = make(need_dw, {G, C}, MemoryFormat::Contiguous), db = make(need_db, {G, C}, MemoryFormat::Contiguous);
    // Without a ReLU the residual's gradient is g itself; with one it is the masked g.
    Tensor dres = make(need_dres && fuse.relu, x.shape(), layout);
    for (int64_t k = 0; k < G; ++k) {
      Tensor xk = part(x, k), gk = part(g, k), yk = part(y_relu, k), dxk = part(dx, k), dresk = part(dres, k);
      Tensor dwk = need_dw ? row(dw, k) : Tensor(), dbk = need_db ? row(db, k) : Tensor();
      switch (x.device().type) {
        case DeviceType::CPU:
          cpu::batch_norm_backward(xk, gk, yk, w, row(mean, k), row(var, k), eps, use_batch_stats, dxk, dwk, dbk,
                                   dresk);
          break;
        case DeviceType::CUDA:
          cuda::batch_norm_backward(xk, gk, yk, w, row(mean, k), row(var, k), eps, use_batch_stats, dxk, dwk, dbk,
                                    dresk);
          break;
        default: unsupported_device("batch_norm backward", x);
      }
    }
    auto over_groups = [&](const Tensor& t) {
      return !t.defined() ? t : G == 1 ? t.view({C}) : sum_except_dim1(t);
    };
    if (need_dres && !fuse.relu) dres = g;
    return std::vector<Tensor>{dx, over_groups(dw), over_groups(db), dres};
  };
  return record(y, "batch_norm", {x_in, weight_in, bias_in, res_in}, backward);
}

FoldedConv fold_batch_norm(const Tensor& w_in, const Tensor& b, const BatchNormState& state, const Tensor& gamma,
                           const Tensor& beta, double eps) {
  check_same_device("fold_batch_norm", {w_in, b, state.running_mean, state.running_var, gamma, beta});
  NF_CHECK(state.running_mean.defined(), "fold_batch_norm: needs running statistics");
  const Tensor w = w_in.contiguous();
  const int64_t O = w.size(0), per_out = w.numel() / O;
  FoldedConv f{Tensor::empty(w.shape(), DType::F32, w.device()), Tensor::empty({O}, DType::F32, w.device())};
  auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };  // [O]: contiguous
  const float *pb = ptr(b), *pg = ptr(gamma), *pbeta = ptr(beta);
  const float *mean = ptr(state.running_mean), *var = ptr(state.running_var);
  switch (w.device().type) {
    case DeviceType::CPU:
      cpu::fold_batch_norm(w.data<float>(), pb, mean, var, pg, pbeta, eps, O, per_out, f.weight.data<float>(),
                           f.bias.data<float>());
      break;
    case DeviceType::CUDA:
      cuda::fold_batch_norm(w.device(), w.data<float>(), pb, mean, var, pg, pbeta, eps, O, per_out, f.weight.data<float>(),
                            f.bias.data<float>());
      break;
    default: unsupported_device("fold_batch_norm", w);
  }
  return f;
}

}  // namespace nf::ops
