// cross_entropy: forward and backward. logits [N, K] F32, targets [N] I64 -> loss [].
// CPU: plain loops with the log-sum-exp of each row in double (backends/cpu/loss.h, which
// says why not oneDNN's softmax_log).
// CUDA: the same math in double in backends/cuda/loss, entirely on the device
// (no host read of the loss, the targets or the incoming gradient).
// The backward keeps the logits and each row's log-sum-exp, in double, on their device.
#include "framework/ops/loss.h"

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/loss.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/loss.h"

namespace nf::ops {

namespace {

// n doubles on a device: DType has no F64, so an I64 tensor provides the 8-byte slots.
Tensor double_slots(int64_t n, Device d) { return Tensor::empty({n}, DType::I64, d); }
double* doubles(const Tensor& slots) { return reinterpret_cast<double*>(slots.data<int64_t>()); }

void check_targets(const Tensor& logits, const Tensor& targets) {
  check_dtype("cross_entropy", logits, DType::F32);
  check_dtype("cross_entropy", targets, DType::I64);
  NF_CHECK(logits.dim() == 2 && targets.dim() == 1 && logits.size(0) == targets.size(0) && logits.size(0) >= 1,
           "cross_entropy: need logits [N, K] and targets [N] with N >= 1, got logits " + shape_str(logits.shape()) +
               " and targets " + shape_str(targets.shape()));
}

// dlogits = g * (softmax(x) - (1-ls)*onehot(t) - ls/K) / N, softmax from the saved
// log-sum-exp in double.
Tensor cross_entropy_backward(const Tensor& g, const Tensor& logits, const Tensor& lse_slots, const Tensor& targets,
                              double ls) {
  Tensor dx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  const int64_t N = logits.size(0), K = logits.size(1);
  switch (logits.device().type) {
    case DeviceType::CPU:
      cpu::cross_entropy_backward(logits.data<float>(), targets.data<int64_t>(), doubles(lse_slots), g.item(), N, K,
                                  ls, dx.data<float>());
      break;
    case DeviceType::CUDA: {
      check_dtype("cross_entropy backward", g, DType::F32);
      NF_CHECK(g.numel() == 1 && g.device() == logits.device(), "cross_entropy backward: gradient " + g.str());
      cuda::Scope scope(logits.device());
      cuda::cross_entropy_backward(logits.data<float>(), targets.data<int64_t>(), doubles(lse_slots),
                                   g.data<float>(), N, K, ls, dx.data<float>());
      break;
    }
    default: unsupported_device("cross_entropy backward", logits);
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
  const Tensor lse_slots = double_slots(N, logits.device());  // each row's log-sum-exp
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  switch (logits.device().type) {
    case DeviceType::CPU:
      cpu::cross_entropy_forward(logits.data<float>(), targets.data<int64_t>(), N, K, ls, doubles(lse_slots),
                                 loss.data<float>());
      break;
    case DeviceType::CUDA: {
      cuda::Scope scope(logits.device());
      const Tensor row_loss = double_slots(N, logits.device());
      cuda::cross_entropy_forward(logits.data<float>(), targets.data<int64_t>(), N, K, ls, doubles(lse_slots),
                                  doubles(row_loss), loss.data<float>());
      break;
    }
    default: unsupported_device("cross_entropy", logits);
  }
  return record(loss, "cross_entropy", {logits_in}, [logits = logits.detach(), lse_slots, targets, ls](const Tensor& g) {
    return std::vector<Tensor>{cross_entropy_backward(g, logits, lse_slots, targets, ls)};
  });
}

}  // namespace nf::ops
