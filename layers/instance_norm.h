// InstanceNorm1d / InstanceNorm2d, as torch.nn: each sample's channel normalized over
// its own L (1d, x [N, C, L]) or H*W (2d, x [N, C, H, W]) values. Parameters "weight"
// (ones) and "bias" (zeros), [C], when affine; buffers "running_mean" (zeros),
// "running_var" (ones), [C] F32, and "num_batches_tracked" (I64 [], 0, never advanced,
// as in PyTorch) when track_running_stats. PyTorch's defaults: affine and
// track_running_stats off, momentum 0.1 (a number: PyTorch's instance_norm takes no
// None), eps 1e-5.
// Training mode, or no running statistics: the instance statistics (and the running
// ones updated); eval mode with running statistics: those (ops::instance_norm).
// ONNX: InstanceNormalization, or with running statistics BatchNormalization over them.
#pragma once
#include "framework/ops/batch_norm.h"
#include "layers/norm.h"

namespace nf {

struct InstanceNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = false;
  bool track_running_stats = false;
};

class InstanceNorm : public Norm {
 public:
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;  // "16, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False"
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;

  const InstanceNormOptions& options() const { return options_; }
  Tensor running_mean() const { return state_.running_mean; }  // undefined unless tracked
  Tensor running_var() const { return state_.running_var; }

  bool has_running_stats() const override { return options_.track_running_stats; }
  // Running statistics reset to mean 0, variance 1, then the cumulative average of the
  // batches that follow (batch k blends with momentum 1/k) until end_recalibration().
  void start_recalibration() override;
  void end_recalibration() override;

 protected:
  InstanceNorm(int64_t num_features, InstanceNormOptions options, int64_t rank);

 private:
  InstanceNormOptions options_;
  int64_t rank_;                      // 3 (1d) or 4 (2d): the input's dimensions
  ops::BatchNormState state_;
  int64_t recalibration_batches_ = -1;  // >= 0 while recalibrating
};

class InstanceNorm1d : public InstanceNorm {
 public:
  explicit InstanceNorm1d(int64_t num_features, InstanceNormOptions options = {})
      : InstanceNorm(num_features, options, 3) {}
  std::string type_name() const override { return "InstanceNorm1d"; }
};

class InstanceNorm2d : public InstanceNorm {
 public:
  explicit InstanceNorm2d(int64_t num_features, InstanceNormOptions options = {})
      : InstanceNorm(num_features, options, 4) {}
  std::string type_name() const override { return "InstanceNorm2d"; }
};

// The registry entry "instance_norm" (InstanceNorm2d on [N, C, H, W], InstanceNorm1d on
// [N, C, L]): momentum, eps, affine, track_running_stats, with PyTorch's defaults.
LayerType instance_norm_layer_type();

}  // namespace nf
