// Norm: the base of the normalization layers (BatchNorm1d/2d, GroupNorm, LayerNorm,
// InstanceNorm1d/2d), so
// the trainer asks a module what it is instead of casting to each class:
//   - its affine parameters "weight" (ones) and "bias" (zeros), [num_features], when
//     affine (optimizer.no_weight_decay: [bn] exempts them);
//   - whether it keeps running statistics (BatchNorm, InstanceNorm with
//     track_running_stats); finetune.bn frozen|frozen_stats and BN recalibration apply
//     to those modules only.
#pragma once
#include <string>

#include "layers/registry.h"

namespace nf {

class Norm : public Module {
 public:
  int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  Tensor weight() const { return weight_; }  // undefined unless affine
  Tensor bias() const { return bias_; }

  virtual bool has_running_stats() const { return false; }
  // Recalibration (finetune.recalibrate_bn_batches): start resets the running
  // statistics and averages cumulatively over the batches that follow; end restores
  // the configured momentum. No-ops without running statistics.
  virtual void start_recalibration() {}
  virtual void end_recalibration() {}

 protected:
  Norm(const std::string& type, int64_t num_features, double eps, bool affine);
  int64_t num_features_;
  double eps_;
  Tensor weight_, bias_;
};

// Every normalization layer of the model, with its name ("layer1.0.bn1"), depth first.
Named<Norm*> named_norms(const Module& model);
// Those that keep running statistics.
std::vector<Norm*> running_stat_norms(const Module& model);

// ONNX forms the normalizations share, of value x with state_dict prefix p:
// BatchNormalization with the given running statistics (the inference form: per
// channel (x - mean) / sqrt(var + eps) * weight + bias; weight 1 and bias 0 when not
// affine), and GroupNorm(groups) over [N, C, ...]: Reshape [N, groups, -1],
// InstanceNormalization (scale 1, bias 0), Reshape back, Mul weight, Add bias (OpenCV
// 4.6 imports neither GroupNormalization nor LayerNormalization).
std::string onnx_batch_norm(OnnxGraph& g, const Norm& norm, const Tensor& running_mean, const Tensor& running_var,
                            const std::string& p, const std::string& x);
std::string onnx_group_norm(OnnxGraph& g, const Norm& norm, int64_t groups, const std::string& p, const std::string& x);

// Python's repr() of a float ("1e-05", "0.1", "1.0"), for PyTorch-identical printouts.
std::string py_float(double v);
inline const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace nf
