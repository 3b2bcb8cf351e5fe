// cross_entropy: forward and backward. CPU: log-softmax over K through oneDNN's
// softmax_v2 (algorithm softmax_log, cached by shape); the per-row loss terms and the
// gradient are plain loops over the [N,K] log-probabilities (oneDNN has no NLL), summed
// in double. The backward keeps only the log-probabilities and the targets.
#include "framework/ops/loss.h"

#include <cmath>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

namespace {

void check_targets(const Tensor& logits, const Tensor& targets) {
  check_dtype("cross_entropy", logits, DType::F32);
  check_dtype("cross_entropy", targets, DType::I64);
  NF_CHECK(logits.dim() == 2 && targets.dim() == 1 && logits.size(0) == targets.size(0) && logits.size(0) >= 1,
           "cross_entropy: need logits [N, K] and targets [N] with N >= 1, got logits " + shape_str(logits.shape()) +
               " and targets " + shape_str(targets.shape()));
}

void check_target_range(const int64_t* t, int64_t n, int64_t k) {
  for (int64_t i = 0; i < n; ++i)
    NF_CHECK(t[i] >= 0 && t[i] < k, "cross_entropy: target " + std::to_string(t[i]) + " at index " +
                                        std::to_string(i) + " is out of range [0, " + std::to_string(k) + ")");
}

// dlogits = g * (exp(logp) - (1-ls)*onehot(t) - ls/K) / N
Tensor cross_entropy_backward(const Tensor& g, const Tensor& logp, const Tensor& targets, double ls) {
  Tensor dx = Tensor::empty(logp.shape(), logp.dtype(), logp.device());
  const int64_t N = logp.size(0), K = logp.size(1);
  switch (logp.device().type) {
    case DeviceType::CPU: {
      const float scale = static_cast<float>(g.item() / N);
      const float off = static_cast<float>(ls / K), on = static_cast<float>(1.0 - ls);
      const float* lp = logp.data<float>();
      const int64_t* t = targets.data<int64_t>();
      float* d = dx.data<float>();
#pragma omp parallel for
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < K; ++k) d[n * K + k] = (std::exp(lp[n * K + k]) - off) * scale;
        d[n * K + t[n]] -= on * scale;
      }
      break;
    }
    default: unsupported_device("cross_entropy backward", logp);
  }
  return dx;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in, double ls) {
  check_same_device("cross_entropy", {logits_in, targets_in});
  check_targets(logits_in, targets_in);
  NF_CHECK(ls >= 0.0 && ls <= 1.0, "cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(ls));
  Tensor logits = logits_in.contiguous(), targets = targets_in.contiguous();
  const int64_t N = logits.size(0), K = logits.size(1);
  Tensor logp = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  switch (logits.device().type) {
    case DeviceType::CPU: {
      const int64_t* t = targets.data<int64_t>();
      check_target_range(t, N, K);
      auto& p = cpu::cached<dnnl::softmax_v2_forward>(cpu::key("log_softmax", logits.shape()), [&] {
        auto md = cpu::plain_desc(logits.shape());
        dnnl::softmax_v2_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_log, md, md, 1);
        return dnnl::softmax_v2_forward(dnnl::softmax_v2_forward::primitive_desc(d, cpu::engine()));
      });
      p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(logits)}, {DNNL_ARG_DST, cpu::memory(logp)}});
      const float* lp = logp.data<float>();
      double total = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        double row = 0.0;
        for (int64_t k = 0; k < K; ++k) row += lp[n * K + k];
        total += -(1.0 - ls) * lp[n * K + t[n]] - ls * row / K;
      }
      *loss.data<float>() = static_cast<float>(total / N);
      break;
    }
    default: unsupported_device("cross_entropy", logits);
  }
  return record(loss, "cross_entropy", {logits_in}, [logp, targets, ls](const Tensor& g) {
    return std::vector<Tensor>{cross_entropy_backward(g, logp, targets, ls)};
  });
}

}  // namespace nf::ops
