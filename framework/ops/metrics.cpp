// topk_correct_count: CPU counts with plain loops; CUDA in one kernel
// (backends/cuda/metrics_kernels) that writes the count into a device tensor.
// topk_correct reads that count back.
#include "framework/ops/metrics.h"

#include <algorithm>

#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/metrics.h"

namespace nf::ops {

Tensor topk_correct_count(const Tensor& logits_in, const Tensor& targets_in, int64_t k) {
  check_same_device("topk_correct", {logits_in, targets_in});
  check_dtype("topk_correct", logits_in, DType::F32);
  check_dtype("topk_correct", targets_in, DType::I64);
  NF_CHECK(logits_in.dim() == 2 && targets_in.dim() == 1 && logits_in.size(0) == targets_in.size(0),
           "topk_correct: need logits [N, K] and targets [N], got logits " + shape_str(logits_in.shape()) +
               " and targets " + shape_str(targets_in.shape()));
  NF_CHECK(k >= 1, "topk_correct: k must be >= 1, got " + std::to_string(k));
  Tensor logits = logits_in.contiguous(), targets = targets_in.contiguous();
  const int64_t N = logits.size(0), K = logits.size(1);
  Tensor count = Tensor::empty({}, DType::I64, logits.device());
  switch (logits.device().type) {
    case DeviceType::CPU: {
      const float* v = logits.data<float>();
      const int64_t* t = targets.data<int64_t>();
      int64_t correct = 0;
      for (int64_t n = 0; n < N; ++n) {
        NF_CHECK(t[n] >= 0 && t[n] < K, "topk_correct: target " + std::to_string(t[n]) + " at index " +
                                             std::to_string(n) + " is out of range [0, " + std::to_string(K) + ")");
        const float* row = v + n * K;
        const float mine = row[t[n]];
        int64_t rank = 0;
        for (int64_t j = 0; j < K; ++j) rank += row[j] > mine || (row[j] == mine && j < t[n]);
        correct += rank < std::min(k, K);
      }
      *count.data<int64_t>() = correct;
      break;
    }
    case DeviceType::CUDA: {
      cuda::Scope scope(logits.device());
      cuda::topk_correct_count(logits.data<float>(), targets.data<int64_t>(), N, K, k, count.data<int64_t>());
      break;
    }
    default: unsupported_device("topk_correct", logits);
  }
  return count;
}

int64_t topk_correct(const Tensor& logits, const Tensor& targets, int64_t k) {
  return static_cast<int64_t>(topk_correct_count(logits, targets, k).item());
}

}  // namespace nf::ops
