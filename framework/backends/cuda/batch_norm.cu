// CUDA batch normalization (declared in batch_norm.h, which states the layouts).
// Own kernels rather than cuDNN's legacy batch normalization: on channels-last fp32
// tensors cuDNN 9 runs its NCHW kernels over the strides, which took 79% of a ResNet-20
// training step on an H100 (Nsight Compute, 2026-11-23: bn_fw_tr_1C11_kernel_NCHW and
// bn_bw_1C11_kernel_new); these kernels also fuse the residual add and ReLU, and sum in
// double as the CPU branch does.
// - Per-channel sums: channel_sums.cuh (double, fixed order, deterministic).
// - Elementwise passes (normalize + add + ReLU, dx) are grid-stride loops over x.
#include "framework/backends/cuda/batch_norm.h"
#include "framework/backends/cuda/channel_sums.cuh"
#include "framework/backends/cuda/context.h"
#include "framework/core/error.h"
#include "framework/core/storage.h"

namespace nf::cuda {

namespace {

constexpr int kThreads = 256;

using Layout = ChannelLayout;

Layout layout_of(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1);
  return Layout(N, C, x.numel() / (N * C), x.memory_format() == MemoryFormat::ChannelsLast);
}

const float* ptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
float* mut(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

void check_layout(const Tensor& x, const Tensor& t, const char* name) {
  check_channel_layout("batch_norm (CUDA)", x, t, name);
}

// ---- per-channel sums -------------------------------------------------------------------

// The statistics' summands: x - shift[c], (x - shift[c])^2, shift = row 0 of x.
struct StatsTerms {
  const float* x;
  Layout L;
  __device__ void operator()(int64_t o, int64_t c, double& a, double& b) const {
    const double d = static_cast<double>(x[o]) - x[L.offset(0, c)];
    a += d;
    b += d * d;
  }
};

// The backward's summands: g' and g' * (x - mean[c]), g' = g masked by the fused ReLU's
// output y (when given), also written to gres (when given).
struct GradTerms {
  const float *x, *g, *y, *mean;
  float* gres;
  __device__ void operator()(int64_t o, int64_t c, double& a, double& b) const {
    float gv = g[o];
    if (y) gv = y[o] > 0.f ? gv : 0.f;
    if (gres) gres[o] = gv;
    a += gv;
    b += static_cast<double>(gv) * (x[o] - mean[c]);
  }
};

// ---- per-channel finalization (one warp per channel) -----------------------------------------

__global__ void stats_finalize_kernel(const double2* part, int64_t P, Layout L, const float* x, float* mean,
                                      float* var, float* rm, float* rv, double factor) {
  const int64_t c = warp_channel();
  if (c >= L.C) return;  // whole warps leave together: c is the same in every lane
  const double2 s = channel_total(part, P, L.C, c);
  if ((threadIdx.x & 31) != 0) return;
  const double n = static_cast<double>(L.M), d = s.x / n;
  const double m = x[L.offset(0, c)] + d, v = max(0.0, s.y / n - d * d);
  mean[c] = static_cast<float>(m);
  var[c] = static_cast<float>(v);
  if (rm) {
    rm[c] = static_cast<float>((1.0 - factor) * rm[c] + factor * m);
    rv[c] = static_cast<float>((1.0 - factor) * rv[c] + factor * (v * (n / (n - 1.0))));
  }
}

// alpha = weight * invstd, beta = bias - mean * alpha, invstd = 1 / sqrt(var + eps).
__global__ void affine_coef_kernel(int64_t C, const float* w, const float* b, const float* mean, const float* var,
                                   double eps, float* alpha, float* beta) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const float invstd = static_cast<float>(1.0 / sqrt(static_cast<double>(var[c]) + eps));
  alpha[c] = w ? invstd * w[c] : invstd;
  beta[c] = (b ? b[c] : 0.f) - mean[c] * alpha[c];
}

// dweight, dbias and the dx coefficients grad_mean, k, scale from the partials.
__global__ void grad_finalize_kernel(const double2* part, int64_t P, int64_t C, double n, const float* w,
                                     const float* var, double eps, bool batch_stats, float* dw, float* db,
                                     float* grad_mean, float* k, float* scale) {
  const int64_t c = warp_channel();
  if (c >= C) return;
  const double2 s = channel_total(part, P, C, c);
  if ((threadIdx.x & 31) != 0) return;
  const double sum_dy = s.x, sum_dy_xmu = s.y;
  const double invstd = 1.0 / sqrt(static_cast<double>(var[c]) + eps);
  if (dw) dw[c] = static_cast<float>(sum_dy_xmu * invstd);
  if (db) db[c] = static_cast<float>(sum_dy);
  scale[c] = static_cast<float>(invstd * (w ? w[c] : 1.0f));
  grad_mean[c] = batch_stats ? static_cast<float>(sum_dy / n) : 0.f;
  k[c] = batch_stats ? static_cast<float>(sum_dy_xmu * invstd * invstd / n) : 0.f;
}

// ---- elementwise passes ---------------------------------------------------------------------

__global__ void apply_kernel(Layout L, int64_t n, const float* __restrict__ x, const float* __restrict__ res,
                             const float* __restrict__ alpha, const float* __restrict__ beta, bool relu,
                             float* __restrict__ y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = L.channel(i);
    float v = x[i] * alpha[c] + beta[c];
    if (res) v += res[i];
    y[i] = relu && !(v > 0.f) ? 0.f : v;
  }
}

__global__ void grad_input_kernel(Layout L, int64_t n, const float* __restrict__ x, const float* __restrict__ g,
                                  const float* __restrict__ y, const float* __restrict__ mean,
                                  const float* __restrict__ grad_mean, const float* __restrict__ k,
                                  const float* __restrict__ scale, float* __restrict__ dx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = L.channel(i);
    float gv = g[i];
    if (y) gv = y[i] > 0.f ? gv : 0.f;
    dx[i] = (gv - grad_mean[c] - (x[i] - mean[c]) * k[c]) * scale[c];
  }
}

__global__ void increment_kernel(int64_t* count) { *count += 1; }

// One thread per folded weight element (and, for the first of each output channel, its bias).
__global__ void fold_kernel(const float* __restrict__ w, const float* __restrict__ b, const float* __restrict__ mean,
                            const float* __restrict__ var, const float* __restrict__ gamma,
                            const float* __restrict__ beta, double eps, int64_t O, int64_t per_out,
                            float* __restrict__ wf, float* __restrict__ bf) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < O * per_out;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / per_out;
    const double s = (gamma ? gamma[o] : 1.f) / sqrt(static_cast<double>(var[o]) + eps);
    wf[i] = static_cast<float>(w[i] * s);
    if (i % per_out == 0)
      bf[o] = static_cast<float>((static_cast<double>(b ? b[o] : 0.f) - mean[o]) * s + (beta ? beta[o] : 0.f));
  }
}

// ---- host side of the SyncBatchNorm halves --------------------------------------------------

// The partials' per-channel totals on the host, summed over the chunks in order.
void host_totals(const ChannelPartials& part, int64_t C, std::vector<double>& a, std::vector<double>& b) {
  const Tensor h = part.storage.to(Device::cpu());  // waits for the stream
  const double* p = static_cast<const double*>(h.raw_data());  // [P, C] pairs
  a.assign(C, 0.0), b.assign(C, 0.0);
  for (int64_t i = 0; i < part.P; ++i)
    for (int64_t c = 0; c < C; ++c) a[c] += p[2 * (i * C + c)], b[c] += p[2 * (i * C + c) + 1];
}

std::vector<float> host(const Tensor& t) { return t.defined() ? t.to(Device::cpu()).to_vector() : std::vector<float>(); }

void upload(const std::vector<float>& v, Tensor& t) {
  NF_CHECK(t.is_contiguous() && t.numel() == static_cast<int64_t>(v.size()), "batch_norm (CUDA): bad upload target " + t.str());
  copy_bytes(t.raw_data(), t.device(), v.data(), Device::cpu(), v.size() * sizeof(float));
}

}  // namespace

void batch_norm_moments(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  Scope scope(x.device());
  const Layout L = layout_of(x);
  const ChannelPartials part = channel_partials(L, StatsTerms{x.data<float>(), L}, x.device());
  std::vector<double> s1, s2;
  host_totals(part, L.C, s1, s2);
  const std::vector<float> first = x.narrow_batch(0, 1).to(Device::cpu()).contiguous().to_vector();  // [C, S]
  const double n = static_cast<double>(L.M);
  mean.resize(L.C), var.resize(L.C);
  for (int64_t c = 0; c < L.C; ++c) {  // as stats_finalize_kernel, shift = x[0, c, 0, 0]
    const double d = s1[c] / n;
    mean[c] = first[c * L.S] + d;
    var[c] = std::max(0.0, s2[c] / n - d * d);
  }
}

void batch_norm_set_stats(const std::vector<double>& mean, const std::vector<double>& var, int64_t n, Tensor& mean_f,
                          Tensor& var_f, Tensor& running_mean, Tensor& running_var, double factor) {
  const size_t C = mean.size();
  std::vector<float> mf(C), vf(C);
  for (size_t c = 0; c < C; ++c) mf[c] = static_cast<float>(mean[c]), vf[c] = static_cast<float>(var[c]);
  upload(mf, mean_f);
  upload(vf, var_f);
  if (!running_mean.defined()) return;
  std::vector<float> rm = host(running_mean), rv = host(running_var);
  const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
  for (size_t c = 0; c < C; ++c) {
    rm[c] = static_cast<float>((1.0 - factor) * rm[c] + factor * mean[c]);
    rv[c] = static_cast<float>((1.0 - factor) * rv[c] + factor * (var[c] * unbias));
  }
  upload(rm, running_mean);
  upload(rv, running_var);
}

BatchNormGradSums batch_norm_grad_sums(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& mean,
                                       Tensor& dres) {
  Scope scope(x.device());
  for (auto [t, name] : {std::pair{&g, "gradient"}, {&y_relu, "output"}, {&dres, "residual gradient"}})
    check_layout(x, *t, name);
  const Layout L = layout_of(x);
  const ChannelPartials part = channel_partials(
      L, GradTerms{x.data<float>(), g.data<float>(), ptr(y_relu), mean.data<float>(), mut(dres)}, x.device());
  BatchNormGradSums sums;
  host_totals(part, L.C, sums.dy, sums.dy_xmu);
  return sums;
}

void batch_norm_grad_apply(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& weight,
                           const Tensor& mean, const Tensor& var, double eps, bool batch_stats,
                           const BatchNormGradSums& local, const BatchNormGradSums& total, double n, Tensor& dx,
                           Tensor& dweight, Tensor& dbias) {
  Scope scope(x.device());
  const Layout L = layout_of(x);
  const std::vector<float> v = host(var), w = host(weight);
  std::vector<float> coef(3 * L.C, 0.f), dw(L.C), db(L.C);  // grad_mean, k, scale (grad_finalize_kernel's)
  for (int64_t c = 0; c < L.C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(v[c]) + eps);
    dw[c] = static_cast<float>(local.dy_xmu[c] * invstd);
    db[c] = static_cast<float>(local.dy[c]);
    coef[2 * L.C + c] = static_cast<float>(invstd * (w.empty() ? 1.0f : w[c]));
    if (batch_stats) {
      coef[c] = static_cast<float>(total.dy[c] / n);
      coef[L.C + c] = static_cast<float>(total.dy_xmu[c] * invstd * invstd / n);
    }
  }
  if (dweight.defined()) upload(dw, dweight);
  if (dbias.defined()) upload(db, dbias);
  if (!dx.defined()) return;
  check_layout(x, dx, "input gradient");
  Tensor dcoef = Tensor::empty({3, L.C}, DType::F32, x.device());
  upload(coef, dcoef);
  const float *grad_mean = dcoef.data<float>(), *k = grad_mean + L.C, *scale = k + L.C;
  const int64_t total_n = x.numel();
  grad_input_kernel<<<blocks_for(total_n, kThreads), kThreads, 0, stream()>>>(
      L, total_n, x.data<float>(), g.data<float>(), ptr(y_relu), mean.data<float>(), grad_mean, k, scale,
      dx.data<float>());
  check_launch("grad_input_kernel");
}

void batch_norm_stats(const Tensor& x, Tensor& mean, Tensor& var, Tensor& running_mean, Tensor& running_var,
                      double factor) {
  Scope scope(x.device());
  const Layout L = layout_of(x);
  const ChannelPartials part = channel_partials(L, StatsTerms{x.data<float>(), L}, x.device());
  stats_finalize_kernel<<<channel_warp_blocks(L.C), kChannelWarpsThreads, 0, stream()>>>(
      part.data(), part.P, L, x.data<float>(), mean.data<float>(), var.data<float>(),
      mut(running_mean), mut(running_var), factor);
  check_launch("stats_finalize_kernel");
}

void batch_norm_apply(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                      const Tensor& var, double eps, const Tensor& residual, bool relu, Tensor& y) {
  Scope scope(x.device());
  check_layout(x, y, "output");
  check_layout(x, residual, "residual");
  const Layout L = layout_of(x);
  const Tensor coef = Tensor::empty({2, L.C}, DType::F32, x.device());
  float *alpha = coef.data<float>(), *beta = alpha + L.C;
  affine_coef_kernel<<<blocks_for(L.C, kThreads), kThreads, 0, stream()>>>(L.C, ptr(weight), ptr(bias),
                                                                             mean.data<float>(), var.data<float>(),
                                                                             eps, alpha, beta);
  check_launch("affine_coef_kernel");
  const int64_t n = x.numel();
  apply_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(L, n, x.data<float>(), ptr(residual), alpha, beta,
                                                                    relu, y.data<float>());
  check_launch("apply_kernel");
}

void batch_norm_backward(const Tensor& x, const Tensor& g, const Tensor& y_relu, const Tensor& weight,
                         const Tensor& mean, const Tensor& var, double eps, bool batch_stats, Tensor& dx,
                         Tensor& dweight, Tensor& dbias, Tensor& dres) {
  Scope scope(x.device());
  for (auto [t, name] : {std::pair{&g, "gradient"}, {&y_relu, "output"}, {&dx, "input gradient"},
                         {&dres, "residual gradient"}})
    check_layout(x, *t, name);
  const Layout L = layout_of(x);
  const ChannelPartials part = channel_partials(
      L, GradTerms{x.data<float>(), g.data<float>(), ptr(y_relu), mean.data<float>(), mut(dres)}, x.device());
  const Tensor coef = Tensor::empty({3, L.C}, DType::F32, x.device());
  float *grad_mean = coef.data<float>(), *k = grad_mean + L.C, *scale = k + L.C;
  grad_finalize_kernel<<<channel_warp_blocks(L.C), kChannelWarpsThreads, 0, stream()>>>(
      part.data(), part.P, L.C, static_cast<double>(L.M), ptr(weight), var.data<float>(),
      eps, batch_stats, mut(dweight), mut(dbias), grad_mean, k, scale);
  check_launch("grad_finalize_kernel");
  if (!dx.defined()) return;
  const int64_t n = x.numel();
  grad_input_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(L, n, x.data<float>(), g.data<float>(),
                                                                         ptr(y_relu), mean.data<float>(), grad_mean,
                                                                         k, scale, dx.data<float>());
  check_launch("grad_input_kernel");
}

void increment_(Tensor& count) {
  Scope scope(count.device());
  NF_CHECK(count.dtype() == DType::I64 && count.numel() == 1,
           "batch_norm: num_batches_tracked must be one I64 element, got " + count.str());
  increment_kernel<<<1, 1, 0, stream()>>>(count.data<int64_t>());
  check_launch("increment_kernel");
}

void fold_batch_norm(Device device, const float* w, const float* b, const float* mean, const float* var,
                     const float* gamma, const float* beta, double eps, int64_t O, int64_t per_out, float* wf,
                     float* bf) {
  Scope scope(device);
  fold_kernel<<<blocks_for(O * per_out, kThreads), kThreads, 0, stream()>>>(w, b, mean, var, gamma, beta, eps, O,
                                                                              per_out, wf, bf);
  check_launch("fold_kernel");
}

}  // namespace nf::cuda
