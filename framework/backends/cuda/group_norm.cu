// CUDA Group Normalization (declared in group_norm.h, which states the layouts).
// cuDNN 9's legacy API has no group normalization; these kernels follow the CPU ones:
// - Statistics: one block per (sample, group) sums x - K and (x - K)^2 over the group's
//   C/G * S values in double (K = the group's first value), block_reduce.cuh's fixed
//   tree, then mean and rstd.
// - Backward sums: one block per (sample, group), one warp per channel of the group:
//   per (n, c) sums of g and g * (x - mean) in double, and the group's dx coefficients;
//   one thread per channel then sums dweight/dbias over the samples in order.
// - Elementwise passes (normalize, dx) are grid-stride loops over x.
#include "framework/backends/cuda/group_norm.h"

#include <climits>
#include <string>

#include "framework/backends/cuda/block_reduce.cuh"
#include "framework/backends/cuda/channel_sums.cuh"
#include "framework/backends/cuda/context.h"
#include "framework/core/error.h"

namespace nf::cuda {

namespace {

constexpr int kThreads = 256;  // a multiple of 32: block_sum and one warp per channel

// x's layout and its groups: G groups of Cg = C / G channels.
struct GroupLayout {
  ChannelLayout L;
  int64_t G, Cg;
  GroupLayout(const Tensor& x, int64_t groups)
      : L(x.size(0), x.size(1), x.numel() / (x.size(0) * x.size(1)), x.memory_format() == MemoryFormat::ChannelsLast),
        G(groups), Cg(x.size(1) / groups) {}
  // The (n, g) index of element i: n * G + c / Cg.
  __device__ int64_t group_of(int64_t i) const { return i / (L.C * L.S) * G + L.channel(i) / Cg; }
};

const float* ptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
float* mut(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

void check_layout(const Tensor& x, const Tensor& t, const char* name) {
  check_channel_layout("group_norm (CUDA)", x, t, name);
}

// grid N * G, block kThreads: mean and rstd (and var, when not null) of group blockIdx.x.
__global__ void stats_kernel(GroupLayout GL, const float* __restrict__ x, double eps, float* mean, float* rstd,
                             float* var_out) {
  const ChannelLayout& L = GL.L;
  const int64_t n = blockIdx.x / GL.G, c0 = blockIdx.x % GL.G * GL.Cg, count = GL.Cg * L.S;
  const double K = x[L.offset(n * L.S, c0)];
  double a = 0, b = 0;
  for (int64_t j = threadIdx.x; j < count; j += kThreads) {
    const double d = static_cast<double>(x[L.offset(n * L.S + j % L.S, c0 + j / L.S)]) - K;
    a += d;
    b += d * d;
  }
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x != 0) return;
  const double d = a / count, var = max(0.0, b / count - d * d);
  mean[blockIdx.x] = static_cast<float>(K + d);
  rstd[blockIdx.x] = static_cast<float>(1.0 / sqrt(var + eps));
  if (var_out) var_out[blockIdx.x] = static_cast<float>(var);
}

// y = x * alpha + beta, alpha = rstd * weight[c], beta = bias[c] - mean * alpha.
__global__ void apply_kernel(GroupLayout GL, int64_t n, const float* __restrict__ x, const float* __restrict__ w,
                             const float* __restrict__ b, const float* __restrict__ mean,
                             const float* __restrict__ rstd, float* __restrict__ y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = GL.L.channel(i), ng = GL.group_of(i);
    const float alpha = rstd[ng] * (w ? w[c] : 1.f);
    const float beta = (b ? b[c] : 0.f) - mean[ng] * alpha;
    y[i] = x[i] * alpha + beta;
  }
}

// grid N * G, block kThreads: per (n, c) sums (g, g * (x - mean)) into sums[n * C + c];
// the group's dx coefficients k = -r^3 * B / M, d = -r * A / M into k[ng], d[ng].
__global__ void grad_sums_kernel(GroupLayout GL, const float* __restrict__ x, const float* __restrict__ g,
                                 const float* __restrict__ w, const float* __restrict__ mean,
                                 const float* __restrict__ rstd, double2* sums, float* k, float* d) {
  const ChannelLayout& L = GL.L;
  const int64_t ng = blockIdx.x, n = ng / GL.G, c0 = ng % GL.G * GL.Cg;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float m = mean[ng];
  double A = 0, B = 0;  // this warp's share, in lane 0
  for (int64_t c = c0 + warp; c < c0 + GL.Cg; c += kThreads / 32) {
    double a = 0, b = 0;
    for (int64_t s = lane; s < L.S; s += 32) {
      const int64_t o = L.offset(n * L.S + s, c);
      a += g[o];
      b += static_cast<double>(g[o]) * (x[o] - m);
    }
    a = warp_sum(a);
    b = warp_sum(b);
    if (lane == 0) {
      sums[n * L.C + c] = make_double2(a, b);
      const double wc = w ? w[c] : 1.0;
      A += wc * a;
      B += wc * b;
    }
  }
  A = block_sum(A);
  B = block_sum(B);
  if (threadIdx.x != 0) return;
  const double r = rstd[ng], M = static_cast<double>(GL.Cg * L.S);
  k[ng] = static_cast<float>(-r * r * r * B / M);
  d[ng] = static_cast<float>(-r * A / M);
}

// One thread per channel: dweight[c] = sum_n ds * rstd[n, g], dbias[c] = sum_n db.
__global__ void param_grad_kernel(GroupLayout GL, int64_t N, const double2* sums, const float* rstd, float* dw,
                                  float* db) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= GL.L.C) return;
  double tw = 0, tb = 0;
  for (int64_t n = 0; n < N; ++n) {
    tw += sums[n * GL.L.C + c].y * rstd[n * GL.G + c / GL.Cg];
    tb += sums[n * GL.L.C + c].x;
  }
  if (dw) dw[c] = static_cast<float>(tw);
  if (db) db[c] = static_cast<float>(tb);
}

// dx = g * rstd * weight[c] + (x - mean) * k + d, all but weight per (n, g).
__global__ void grad_input_kernel(GroupLayout GL, int64_t n, const float* __restrict__ x, const float* __restrict__ g,
                                  const float* __restrict__ w, const float* __restrict__ mean,
                                  const float* __restrict__ rstd, const float* __restrict__ k,
                                  const float* __restrict__ d, float* __restrict__ dx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = GL.L.channel(i), ng = GL.group_of(i);
    dx[i] = g[i] * (rstd[ng] * (w ? w[c] : 1.f)) + (x[i] - mean[ng]) * k[ng] + d[ng];
  }
}

}  // namespace

void group_norm_forward(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                        Tensor& y, Tensor& mean, Tensor& rstd, Tensor& var) {
  Scope scope(x.device());
  check_layout(x, y, "output");
  const GroupLayout GL(x, groups);
  const int64_t NG = x.size(0) * groups, n = x.numel();
  NF_CHECK(NG <= INT_MAX, "group_norm (CUDA): too many (sample, group) pairs: " + std::to_string(NG));
  stats_kernel<<<unsigned(NG), kThreads, 0, stream()>>>(GL, x.data<float>(), eps, mean.data<float>(),
                                                         rstd.data<float>(), var.defined() ? var.data<float>() : nullptr);
  check_launch("group_norm stats_kernel");
  apply_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(GL, n, x.data<float>(), ptr(weight), ptr(bias),
                                                                    mean.data<float>(), rstd.data<float>(),
                                                                    y.data<float>());
  check_launch("group_norm apply_kernel");
}

void group_norm_backward(const Tensor& x, const Tensor& g, int64_t groups, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, Tensor& dx, Tensor& dweight, Tensor& dbias) {
  Scope scope(x.device());
  check_layout(x, g, "gradient");
  check_layout(x, dx, "input gradient");
  const GroupLayout GL(x, groups);
  const int64_t N = x.size(0), C = x.size(1), NG = N * groups, n = x.numel();
  NF_CHECK(NG <= INT_MAX, "group_norm (CUDA): too many (sample, group) pairs: " + std::to_string(NG));
  // [N, C] double2 sums in an I64 tensor (DType has no F64), then k and d [N, G].
  const Tensor sums = Tensor::empty({2 * N * C}, DType::I64, x.device());
  const Tensor coef = Tensor::empty({2, NG}, DType::F32, x.device());
  auto* ps = static_cast<double2*>(sums.raw_data());
  float *k = coef.data<float>(), *d = k + NG;
  grad_sums_kernel<<<unsigned(NG), kThreads, 0, stream()>>>(GL, x.data<float>(), g.data<float>(), ptr(weight),
                                                             mean.data<float>(), rstd.data<float>(), ps, k, d);
  check_launch("group_norm grad_sums_kernel");
  if (dweight.defined() || dbias.defined()) {
    param_grad_kernel<<<blocks_for(C, kThreads), kThreads, 0, stream()>>>(GL, N, ps, rstd.data<float>(),
                                                                           mut(dweight), mut(dbias));
    check_launch("group_norm param_grad_kernel");
  }
  if (!dx.defined()) return;
  grad_input_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(GL, n, x.data<float>(), g.data<float>(),
                                                                         ptr(weight), mean.data<float>(),
                                                                         rstd.data<float>(), k, d, dx.data<float>());
  check_launch("group_norm grad_input_kernel");
}

}  // namespace nf::cuda
