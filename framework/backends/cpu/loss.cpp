// cross_entropy's CPU loops (see loss.h).
#include "framework/backends/cpu/loss.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "framework/core/error.h"

namespace nf::cpu {

namespace {

void check_target_range(const int64_t* t, int64_t n, int64_t k) {
  for (int64_t i = 0; i < n; ++i)
    NF_CHECK(t[i] >= 0 && t[i] < k, "cross_entropy: target " + std::to_string(t[i]) + " at index " +
                                        std::to_string(i) + " is out of range [0, " + std::to_string(k) + ")");
}

}  // namespace

void cross_entropy_forward(const float* x, const int64_t* t, int64_t N, int64_t K, double ls, double* lse,
                           float* loss) {
  check_target_range(t, N, K);
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = x + n * K;
    double mx = row[0], sum = 0.0, row_sum = 0.0;
    for (int64_t k = 1; k < K; ++k) mx = std::max(mx, double(row[k]));
    for (int64_t k = 0; k < K; ++k) sum += std::exp(row[k] - mx), row_sum += row[k];
    lse[n] = mx + std::log(sum);
    // -(1-ls) * logp[t] - ls * mean_k logp[k], with logp = x - lse
    total += -(1.0 - ls) * (row[t[n]] - lse[n]) - ls * (row_sum / K - lse[n]);
  }
  *loss = static_cast<float>(total / N);
}

void cross_entropy_backward(const float* x, const int64_t* t, const double* lse, double g, int64_t N, int64_t K,
                            double ls, float* d) {
  const double scale = g / N, off = ls / K, on = 1.0 - ls;
#pragma omp parallel for if (N * K > 32768)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      d[n * K + k] = static_cast<float>((std::exp(x[n * K + k] - lse[n]) - off - (k == t[n] ? on : 0.0)) * scale);
}

}  // namespace nf::cpu
