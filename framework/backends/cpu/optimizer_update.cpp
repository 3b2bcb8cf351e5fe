// The SGD and AdamW loops (see optimizer_update.h): OpenMP `parallel for simd`
// (parallel only for large tensors, where threads pay off).
// std::fma marks exactly the fused multiply-adds PyTorch's kernels perform; every
// other product and sum is written so the compiler cannot contract it (this file is
// compiled with -ffp-contract=off, see CMakeLists.txt). On x86-64 the loops are also
// compiled for x86-64-v3 (AVX2 + FMA) and picked at run time, so the FMAs vectorize
// instead of calling libm's fmaf.
#include "framework/backends/cpu/optimizer_update.h"

#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__)
#define NF_FMA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NF_FMA_CLONES
#endif

namespace nf::cpu {

namespace {

constexpr int64_t kParallelMin = int64_t(1) << 15;

}  // namespace

NF_FMA_CLONES
void sgd_update(float* __restrict p, const float* __restrict g, float* __restrict buf, int64_t n, SgdScalars s) {
  if (!s.use_momentum) {
#pragma omp parallel for simd if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      const float d = s.use_wd ? std::fma(p[i], s.wd, g[i]) : g[i];  // grad.add(param, alpha=wd)
      p[i] = std::fma(d, s.neg_lr, p[i]);                             // param.add_(d, alpha=-lr)
    }
    return;
  }
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float d = s.use_wd ? std::fma(p[i], s.wd, g[i]) : g[i];
    const float b = s.first ? d : std::fma(d, s.one_minus_dampening, buf[i] * s.momentum);  // buf.mul_(m).add_(d, alpha=1-damp)
    buf[i] = b;
    p[i] = std::fma(s.nesterov ? std::fma(b, s.momentum, d) : b, s.neg_lr, p[i]);  // d.add(buf, alpha=m) or buf
  }
}

NF_FMA_CLONES
void adamw_update(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                  int64_t n, AdamWScalars s) {
#pragma omp parallel for simd if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    float pi = p[i] * s.decay;                                          // param.mul_(1 - lr*wd)
    float mi = std::fma(gi, s.one_minus_beta1, m[i] * s.beta1);         // exp_avg.mul_(b1).add_(g, alpha=1-b1)
    float vi = std::fma(s.one_minus_beta2 * gi, gi, v[i] * s.beta2);    // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
    float denom = std::sqrt(vi) / s.bias_correction2_sqrt + s.eps;      // (sqrt(v) / bc2_sqrt).add_(eps)
    p[i] = pi + (s.neg_step_size * mi) / denom;                         // param.addcdiv_(m, denom, -step_size)
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace nf::cpu
