// dropout's CPU loops (see dropout.h).
#include "framework/backends/cpu/dropout.h"

namespace nf::cpu {

void dropout_mask(Generator& gen, double p, float scale, const Tensor& mask) {
  float* m = mask.data<float>();
  const int64_t n = mask.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(gen.next() >> 11) * 0x1p-53;
    m[i] = u >= p ? scale : 0.f;
  }
}

void dropout_apply(const Tensor& a, const Tensor& mask, const Tensor& out) {
  const float* ap = a.data<float>();
  const float* mp = mask.data<float>();
  float* op = out.data<float>();
  const int64_t n = a.numel();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) op[i] = ap[i] * mp[i];
}

}  // namespace nf::cpu
