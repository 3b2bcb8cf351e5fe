// batch_norm: forward and backward, with the optional fused residual add and ReLU.
// One device-independent frame (checks, layout, the statistics the backward keeps, the
// autograd closure) with one branch per device.
// CPU layout: the kernels see x as rows with the channel innermost: the channels-last
// tensor ([N, H, W, C] for images, [N, C] as is) is M = N*H*W rows of C channels; a
// blocked one (nChw16c, as conv writes it) is N*C/16 blocks of H*W rows of 16 channels.
// A blocked input stays blocked, others are converted to channels-last; y takes that
// format.
// CUDA (framework/backends/cuda/batch_norm_cuda.h): kernels with the same formulas and
// double sums, on x in its own dense format (NCHW or channels-last); y, the residual and
// the gradient have that format. num_batches_tracked += 1 runs on the device.
// Per-channel sums are taken in double, as PyTorch's CPU kernel does (its acc_type of
// float is double): float sums lose ~1e-4 relative in dbias under cancellation (test
// BatchNormTrain.SumsUnderCancellationMatchFloat64). Rows are split into one range per
// thread; each thread sums its range into its own [C] partials, combined in thread order.
// - Forward: batch mean and biased variance in one pass, shifted by the first row
//   (sums of x - K and (x - K)^2, K = x[0, c]: exact in double for any offset), then
//   y = x * alpha + beta with alpha = weight * invstd, beta = bias - mean * alpha
//   (PyTorch's batch_norm_cpu_transform_input), + residual, ReLU, in one pass.
// - Backward: PyTorch's batch_norm_cpu_backward formulas, one pass for the sums (with
//   the ReLU mask applied to dy and the residual's gradient written out), one for dx.
#include "framework/ops/batch_norm.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/backends/cpu/vectorize.h"
#include "framework/ops/dispatch.h"
#include "framework/backends/cuda/batch_norm.h"

namespace nf::ops {

namespace {

// Rows [r0, r1) of `width` channels starting at channel c0, the first row `offset`
// elements into the tensor: what one kernel call below sees.
struct Segment {
  int64_t offset, r0, r1, c0, width;
};

// The rows of x (see the top), split into one range per thread: a range of the M rows
// (channels-last), or of the N*C/16 blocks (blocked). Below kParallelMin values one
// thread does it all (waking threads costs more).
struct Rows {
  static constexpr int64_t kParallelMin = int64_t{1} << 15;
  int64_t M, C;
  int threads;
  int64_t plane = 0;  // blocked: H*W rows per block
  explicit Rows(const Tensor& x)
      : M(x.numel() / x.size(1)), C(x.size(1)), threads(M * C >= kParallelMin ? cpu::num_threads() : 1) {
    if (x.memory_format() == MemoryFormat::Blocked16) plane = x.size(2) * x.size(3);
  }
  // Calls f(thread, segment) for each segment of each thread's range, in parallel.
  template <class F>
  void for_segments(const F& f) const {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      const int64_t units = plane ? M / plane * (C / 16) : M;  // blocks or rows
      const int64_t per = (units + T - 1) / T;
      const int64_t u0 = std::min(units, t * per), u1 = std::min(units, u0 + per);
      if (!plane) {
        f(t, Segment{0, u0, u1, 0, C});
      } else {
        for (int64_t blk = u0; blk < u1; ++blk) f(t, Segment{blk * plane * 16, 0, plane, blk % (C / 16) * 16, 16});
      }
    }
  }
  // x[0, c, 0, 0] for every c: the shift of the one-pass statistics.
  std::vector<float> first_pixel(const float* x) const {
    std::vector<float> k(C);
    for (int64_t c = 0; c < C; ++c) k[c] = plane ? x[c / 16 * plane * 16 + c % 16] : x[c];
    return k;
  }
};

// The kernels below take restrict pointers and keep branches out of the inner loops,
// so that each inner loop over the C channels of a row vectorizes.

// s1[c] += x - k[c], s2[c] += (x - k[c])^2 over rows [r0, r1).
NF_VECTORIZE void sum_shifted(const float* __restrict x, int64_t r0, int64_t r1, int64_t C,
                              const float* __restrict k, double* __restrict s1, double* __restrict s2) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double d = static_cast<double>(xr[c]) - k[c];
      s1[c] += d;
      s2[c] += d * d;
    }
  }
}

// y = relu?(x * alpha + beta + res?) over rows [r0, r1); res may be null.
NF_VECTORIZE void affine_rows(const float* __restrict x, const float* __restrict res, float* __restrict y,
                              int64_t r0, int64_t r1, int64_t C, const float* __restrict alpha,
                              const float* __restrict beta, bool relu) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    if (res) {
      const float* __restrict rr = res + r * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * alpha[c] + beta[c] + rr[c];
    } else {
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * alpha[c] + beta[c];
    }
    if (relu)
      for (int64_t c = 0; c < C; ++c) yr[c] = yr[c] > 0.f ? yr[c] : 0.f;
  }
}

// out[c] = dy where the fused ReLU's output y > 0, else 0 (one row).
inline void mask_row(const float* __restrict g, const float* __restrict y, float* __restrict out, int64_t C) {
  for (int64_t c = 0; c < C; ++c) out[c] = y[c] > 0.f ? g[c] : 0.f;
}

// sum_dy[c] += g', sum_dy_xmu[c] += g' * (x - mean[c]) over rows [r0, r1), where g' is
// the gradient reaching the BN output: g, masked by the fused ReLU's output y when y is
// given. g' is also written to gres when given (the residual's gradient), else, when
// masked, to `row` (C floats of scratch).
NF_VECTORIZE void sum_grad(const float* __restrict x, const float* __restrict g, const float* __restrict y,
                           float* __restrict gres, float* __restrict row, int64_t r0, int64_t r1, int64_t C,
                           const float* __restrict mean, double* __restrict sum_dy, double* __restrict sum_dy_xmu) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * C;
    const float* __restrict gv = g + o;
    if (y) {
      float* out = gres ? gres + o : row;
      mask_row(g + o, y + o, out, C);
      gv = out;
    }
    const float* __restrict xr = x + o;
    for (int64_t c = 0; c < C; ++c) {
      sum_dy[c] += gv[c];
      sum_dy_xmu[c] += static_cast<double>(gv[c]) * (xr[c] - mean[c]);
    }
  }
}

// dx = (g' - grad_mean[c] - (x - mean[c]) * k[c]) * scale[c] over rows [r0, r1), g' as in sum_grad.
NF_VECTORIZE void grad_input(const float* __restrict x, const float* __restrict g, const float* __restrict y,
                             float* __restrict dx, int64_t r0, int64_t r1, int64_t C, const float* __restrict mean,
                             const float* __restrict grad_mean, const float* __restrict k,
                             const float* __restrict scale) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * C;
    const float* __restrict xr = x + o;
    float* __restrict dr = dx + o;
    if (y) mask_row(g + o, y + o, dr, C);  // dr holds g' first
    const float* __restrict gv = y ? dr : g + o;
    for (int64_t c = 0; c < C; ++c) dr[c] = (gv[c] - grad_mean[c] - (xr[c] - mean[c]) * k[c]) * scale[c];
  }
}

// Per-thread [C] double partials, summed in thread order into out (deterministic).
struct Partials {
  int64_t C;
  std::vector<double> a, b;
  Partials(const Rows& rows) : C(rows.C), a(rows.threads * rows.C, 0.0), b(rows.threads * rows.C, 0.0) {}
  double* a_of(int t) { return a.data() + t * C; }
  double* b_of(int t) { return b.data() + t * C; }
  void total(std::vector<double>& ta, std::vector<double>& tb) const {
    ta.assign(C, 0.0);
    tb.assign(C, 0.0);
    for (size_t t = 0; t < a.size() / C; ++t)
      for (int64_t c = 0; c < C; ++c) {
        ta[c] += a[t * C + c];
        tb[c] += b[t * C + c];
      }
  }
};

// Batch mean and biased variance per channel in double; also stored, rounded, into
// the [C] tensors the forward and backward use.
void cpu_batch_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var, Tensor& mean_f,
                     Tensor& var_f) {
  const Rows rows(x);
  const float* px = x.data<float>();
  const std::vector<float> shift = rows.first_pixel(px);
  Partials part(rows);
  rows.for_segments([&](int t, const Segment& s) {
    sum_shifted(px + s.offset, s.r0, s.r1, s.width, shift.data() + s.c0, part.a_of(t) + s.c0, part.b_of(t) + s.c0);
  });
  std::vector<double> s1, s2;
  part.total(s1, s2);
  const double n = static_cast<double>(rows.M);
  for (int64_t c = 0; c < rows.C; ++c) {
    const double d = s1[c] / n;
    mean[c] = shift[c] + d;
    var[c] = std::max(0.0, s2[c] / n - d * d);
    mean_f.data<float>()[c] = static_cast<float>(mean[c]);
    var_f.data<float>()[c] = static_cast<float>(var[c]);
  }
}

// y = relu?(weight * (x - mean) / sqrt(var + eps) + bias + res?) with the given [C] statistics.
void cpu_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& mean, const Tensor& var,
                 const Tensor& res, bool relu, Tensor& y, double eps) {
  const Rows rows(x);
  std::vector<float> alpha(rows.C), beta(rows.C);
  for (int64_t c = 0; c < rows.C; ++c) {
    const float invstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var.data<float>()[c]) + eps));
    alpha[c] = w.defined() ? invstd * w.data<float>()[c] : invstd;
    beta[c] = (b.defined() ? b.data<float>()[c] : 0.f) - mean.data<float>()[c] * alpha[c];
  }
  const float* pr = res.defined() ? res.data<float>() : nullptr;
  rows.for_segments([&](int, const Segment& s) {
    affine_rows(x.data<float>() + s.offset, pr ? pr + s.offset : nullptr, y.data<float>() + s.offset, s.r0, s.r1,
                s.width, alpha.data() + s.c0, beta.data() + s.c0, relu);
  });
}

// PyTorch's batch_norm_cpu_backward, per channel c with invstd = 1/sqrt(var + eps)
// and the sums sum_dy = Σ dy, sum_dy_xmu = Σ dy * (x - mean) taken in double:
//   batch statistics: dx = (dy - sum_dy/n - (x - mean) * sum_dy_xmu * invstd^2 / n) * invstd * weight
//   given statistics: dx = dy * invstd * weight
//   dweight = sum_dy_xmu * invstd, dbias = sum_dy.
// dy here is the gradient masked by the fused ReLU (y_relu: its output, or undefined);
// dres (if defined) receives that masked gradient. Only defined outputs are computed.
void cpu_backward(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& w, const Tensor& mean,
                  const Tensor& var, double eps, bool batch_stats, Tensor& dx, Tensor& dw, Tensor& db,
                  Tensor& dres) {
  const Rows rows(x);
  const int64_t C = rows.C;
  const double n = static_cast<double>(rows.M);
  const float *px = x.data<float>(), *pg = g.data<float>(), *pm = mean.data<float>();
  const float* py = y_relu.defined() ? y_relu.data<float>() : nullptr;
  float* pres = dres.defined() ? dres.data<float>() : nullptr;
  std::vector<double> sum_dy(C, 0.0), sum_dy_xmu(C, 0.0);
  if ((dx.defined() && batch_stats) || dw.defined() || db.defined() || pres) {
    Partials part(rows);
    std::vector<float> masked(rows.threads * C);  // one row of scratch per thread, allocated once
    rows.for_segments([&](int t, const Segment& s) {
      sum_grad(px + s.offset, pg + s.offset, py ? py + s.offset : nullptr, pres ? pres + s.offset : nullptr,
               masked.data() + t * C, s.r0, s.r1, s.width, pm + s.c0, part.a_of(t) + s.c0, part.b_of(t) + s.c0);
    });
    part.total(sum_dy, sum_dy_xmu);
  }
  std::vector<float> scale(C), grad_mean(C, 0.f), k(C, 0.f);
  for (int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(var.data<float>()[c]) + eps);
    if (dw.defined()) dw.data<float>()[c] = static_cast<float>(sum_dy_xmu[c] * invstd);
    if (db.defined()) db.data<float>()[c] = static_cast<float>(sum_dy[c]);
    scale[c] = static_cast<float>(invstd * (w.defined() ? w.data<float>()[c] : 1.0f));
    if (batch_stats) {
      grad_mean[c] = static_cast<float>(sum_dy[c] / n);
      k[c] = static_cast<float>(sum_dy_xmu[c] * invstd * invstd / n);
    }
  }
  if (!dx.defined()) return;
  rows.for_segments([&](int, const Segment& s) {
    grad_input(px + s.offset, pg + s.offset, py ? py + s.offset : nullptr, dx.data<float>() + s.offset, s.r0, s.r1,
               s.width, pm + s.c0, grad_mean.data() + s.c0, k.data() + s.c0, scale.data() + s.c0);
  });
}

// The PyTorch running-statistics update from the double batch statistics.
void cpu_update_running_stats(BatchNormState& s, const std::vector<double>& mean, const std::vector<double>& var,
                              int64_t n, std::optional<double> momentum) {
  int64_t& count = s.num_batches_tracked.data<int64_t>()[0];
  count += 1;
  const double factor = momentum ? *momentum : 1.0 / static_cast<double>(count);
  const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
  float* rm = s.running_mean.data<float>();
  float* rv = s.running_var.data<float>();
  for (size_t c = 0; c < mean.size(); ++c) {
    rm[c] = static_cast<float>((1.0 - factor) * rm[c] + factor * mean[c]);
    rv[c] = static_cast<float>((1.0 - factor) * rv[c] + factor * (var[c] * unbias));
  }
}

void check_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias, const BatchNormState& s,
                  bool use_batch_stats) {
  NF_CHECK(x.dim() >= 2 && x.dim() <= 4,
           "batch_norm: expected input [N, C], [N, C, L] or [N, C, H, W], got " + x.str());
  check_dtype("batch_norm", x, DType::F32);
  const int64_t C = x.size(1);
  check_same_device("batch_norm", {x, weight, bias, s.running_mean, s.running_var, s.num_batches_tracked});
  auto check_vec = [&](const Tensor& t, const char* name) {
    if (!t.defined()) return;
    check_dtype("batch_norm", t, DType::F32);
    NF_CHECK(t.shape() == Shape{C}, std::string("batch_norm: ") + name + " has shape " + shape_str(t.shape()) +
                                        ", expected [" + std::to_string(C) + "] for input " + shape_str(x.shape()));
  };
  check_vec(weight, "weight");
  check_vec(bias, "bias");
  check_vec(s.running_mean, "running_mean");
  check_vec(s.running_var, "running_var");
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
}

// The memory format the op works in: blocked or channels-last rows on the CPU (see the
// top); on CUDA x's own dense format (its kernels take either), so that
// y = Tensor::empty_like(x.dense()).
MemoryFormat work_format(const Tensor& x) {
  if (x.device().is_cpu())
    return x.memory_format() == MemoryFormat::Blocked16 ? MemoryFormat::Blocked16 : MemoryFormat::ChannelsLast;
  return x.is_dense() ? x.memory_format() : MemoryFormat::Contiguous;
}

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, BatchNormState& state,
                  bool use_batch_stats, std::optional<double> momentum, double eps, const BatchNormFusion& fuse) {
  check_inputs(x_in, weight_in, bias_in, state, use_batch_stats);
  const Tensor& res_in = fuse.residual;
  if (res_in.defined()) {
    check_same_device("batch_norm", {x_in, res_in});
    check_dtype("batch_norm", res_in, DType::F32);
    NF_CHECK(res_in.shape() == x_in.shape(), "batch_norm: residual " + shape_str(res_in.shape()) +
                                                 " does not match the input " + shape_str(x_in.shape()));
  }
  const int64_t C = x_in.size(1), n = x_in.numel() / C;
  const MemoryFormat layout = work_format(x_in);
  Tensor x = x_in.contiguous(layout).detach();
  Tensor res = res_in.defined() ? res_in.contiguous(layout).detach() : Tensor();
  Tensor w = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  Tensor b = bias_in.defined() ? bias_in.contiguous().detach() : Tensor();
  const bool grad = needs_grad({x_in, weight_in, bias_in, res_in});

  // Statistics used to normalize: fresh batch ones, or a snapshot of the running
  // ones (the backward must see what the forward saw).
  Tensor mean, var;
  if (use_batch_stats) {
    mean = Tensor::empty({C}, DType::F32, x.device());
    var = Tensor::empty({C}, DType::F32, x.device());
  } else {
    mean = grad ? state.running_mean.clone() : state.running_mean.contiguous().detach();
    var = grad ? state.running_var.clone() : state.running_var.contiguous().detach();
  }
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device(), layout);
  switch (x.device().type) {
    case DeviceType::CPU:
      if (use_batch_stats) {
        std::vector<double> batch_mean(C), batch_var(C);
        cpu_batch_stats(x, batch_mean, batch_var, mean, var);
        if (state.running_mean.defined()) cpu_update_running_stats(state, batch_mean, batch_var, n, momentum);
      }
      cpu_forward(x, w, b, mean, var, res, fuse.relu, y, eps);
      break;
    case DeviceType::CUDA:
      if (use_batch_stats) {
        double factor = 0.0;  // unused when the statistics are not tracked
        if (state.running_mean.defined()) {
          cuda::increment_(state.num_batches_tracked);
          // The cumulative average needs the count on the host (one synchronizing read).
          factor = momentum ? *momentum : 1.0 / state.num_batches_tracked.item();
        }
        cuda::batch_norm_stats(x, mean, var, state.running_mean, state.running_var, factor);
      }
      cuda::batch_norm_apply(x, w, b, mean, var, eps, res, fuse.relu, y);
      break;
    default: unsupported_device("batch_norm", x);
  }
  if (!grad) return y;

  const bool need_dx = x_in.requires_grad();
  const bool need_dw = weight_in.defined() && weight_in.requires_grad();
  const bool need_db = bias_in.defined() && bias_in.requires_grad();
  const bool need_dres = res_in.defined() && res_in.requires_grad();
  const Tensor y_relu = fuse.relu ? y.detach() : Tensor();
  auto backward = [=](const Tensor& g_in) {
    Tensor g = g_in.contiguous(layout);
    auto make = [&](bool need, const Shape& s) {
      return need ? Tensor::empty(s, DType::F32, x.device(), s.size() == 1 ? MemoryFormat::Contiguous : layout)
                  : Tensor();
    };
    Tensor dx = make(need_dx, x.shape()), dw = make(need_dw, {C}), db = make(need_db, {C});
    // Without a ReLU the residual's gradient is g itself; with one it is the masked g.
    Tensor dres = need_dres && fuse.relu ? make(true, x.shape()) : Tensor();
    switch (x.device().type) {
      case DeviceType::CPU: cpu_backward(x, g, y_relu, w, mean, var, eps, use_batch_stats, dx, dw, db, dres); break;
      case DeviceType::CUDA:
        cuda::batch_norm_backward(x, g, y_relu, w, mean, var, eps, use_batch_stats, dx, dw, db, dres);
        break;
      default: unsupported_device("batch_norm backward", x);
    }
    if (need_dres && !fuse.relu) dres = g;
    return std::vector<Tensor>{dx, dw, db, dres};
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
    case DeviceType::CPU: {
      const float* src = w.data<float>();
      float *dst = f.weight.data<float>(), *bias = f.bias.data<float>();
#pragma omp parallel for if (O * per_out > 65536)
      for (int64_t o = 0; o < O; ++o) {
        const double s = (pg ? pg[o] : 1.f) / std::sqrt(static_cast<double>(var[o]) + eps);
#pragma omp simd
        for (int64_t i = 0; i < per_out; ++i) dst[o * per_out + i] = static_cast<float>(src[o * per_out + i] * s);
        bias[o] = static_cast<float>((static_cast<double>(pb ? pb[o] : 0.f) - mean[o]) * s + (pbeta ? pbeta[o] : 0.f));
      }
      break;
    }
    case DeviceType::CUDA:
      cuda::fold_batch_norm(w.device(), w.data<float>(), pb, mean, var, pg, pbeta, eps, O, per_out, f.weight.data<float>(),
                            f.bias.data<float>());
      break;
    default: unsupported_device("fold_batch_norm", w);
  }
  return f;
}

}  // namespace nf::ops
