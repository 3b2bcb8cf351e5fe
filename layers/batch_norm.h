// BatchNorm1d / BatchNorm2d, as torch.nn: parameters "weight" (ones) and "bias"
// (zeros), [C], when affine; buffers "running_mean" (zeros), "running_var" (ones),
// [C] F32, and "num_batches_tracked" (I64, shape [], 0) when track_running_stats.
// BatchNorm1d takes [N, C] or [N, C, L]; BatchNorm2d takes [N, C, H, W].
// Training mode (or no running statistics) normalizes with batch statistics and
// updates the running ones (per group of options.virtual_batch samples when set: ghost
// batch norm; over every rank's samples with options.sync in a data-parallel run); eval
// mode uses the running statistics. The math is ops::batch_norm
// (framework/ops/batch_norm.h) and ops::sync_batch_norm.
#pragma once
#include <optional>

#include "framework/ops/batch_norm.h"
#include "layers/norm.h"

namespace nf {

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;  // nullopt: cumulative moving average
  bool affine = true;
  bool track_running_stats = true;
  // Ghost batch norm: training normalizes each group of this many samples on its own
  // (ops::batch_norm's virtual_batch, >= 2); nullopt: the whole batch.
  std::optional<int64_t> virtual_batch;
  // SyncBatchNorm (recipe model.bn.sync): in a data-parallel run, training normalizes
  // with the statistics of the global batch, every rank's samples
  // (ops::sync_batch_norm); alone, or in evaluation, it changes nothing.
  bool sync = false;
};

class BatchNorm : public Norm {
 public:
  Tensor forward(const Tensor& x) override;
  // relu?(bn(x) + residual?) in one pass (ops::BatchNormFusion); runs the forward hook
  // like operator(). ResNet blocks call it for bn -> relu and bn -> add -> relu.
  Tensor forward_fused(const Tensor& x, const Tensor& residual, bool relu);
  std::string extra_repr() const override;  // "16, eps=1e-05, momentum=0.1, ..., virtual_batch=8" (when set)
  // BatchNormalization with the running statistics; without them an nf::Error (a batch
  // normalized by itself has no inference form).
  std::string to_onnx(OnnxGraph& g, const std::string& prefix, const std::string& x) override;
  FusionRole fusion_role() const override { return FusionRole::BatchNorm; }

  const BatchNormOptions& options() const { return options_; }
  Tensor running_mean() const { return state_.running_mean; }  // undefined unless tracked
  Tensor running_var() const { return state_.running_var; }
  Tensor num_batches_tracked() const { return state_.num_batches_tracked; }

  bool has_running_stats() const override { return options_.track_running_stats; }
  // Running statistics reset to mean 0, variance 1, count 0, then momentum None (a
  // cumulative average) until end_recalibration().
  void start_recalibration() override;
  void end_recalibration() override;

 protected:
  BatchNorm(int64_t num_features, BatchNormOptions options);
  // The input ranks this layer accepts, for the error message ("2D or 3D").
  virtual bool accepts_rank(int64_t dim) const = 0;
  virtual const char* expected_ranks() const = 0;

 private:
  Tensor normalize(const Tensor& x, const Tensor& residual, bool relu);  // checks + ops::batch_norm

  BatchNormOptions options_;
  std::optional<double> configured_momentum_;  // options_.momentum outside recalibration
  ops::BatchNormState state_;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  bool accepts_rank(int64_t dim) const override { return dim == 2 || dim == 3; }
  const char* expected_ranks() const override { return "2D or 3D"; }
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {}) : BatchNorm(num_features, options) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  bool accepts_rank(int64_t dim) const override { return dim == 4; }
  const char* expected_ranks() const override { return "4D"; }
};

// The registry entry "batch_norm" (BatchNorm2d on [N, C, H, W], BatchNorm1d on [N, F]):
// momentum (null: cumulative), eps, affine, track_running_stats, virtual_batch, sync;
// momentum, eps and sync default to model.bn's (models/layer_registry.h).
LayerType batch_norm_layer_type();

}  // namespace nf
