// topk_correct_count: CPU counts with a plain loop (backends/cpu/metrics); CUDA in one kernel
// (backends/cuda/metrics) that writes the count into a device tensor.
// topk_correct reads that count back.
#include "framework/ops/metrics.h"

#include "framework/backends/cpu/metrics.h"
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
    case DeviceType::CPU:
      cpu::topk_correct_count(logits.data<float>(), targets.data<int64_t>(), N, K, k, count.data<int64_t>());
      break;
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
