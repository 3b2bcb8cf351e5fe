// Norm: the base of the normalization layers (BatchNorm1d/2d, GroupNorm, LayerNorm), so
// the trainer asks a module what it is instead of casting to each class:
//   - its affine parameters "weight" (ones) and "bias" (zeros), [num_features], when
//     affine (optimizer.no_weight_decay: [bn] exempts them);
//   - whether it keeps running statistics (only BatchNorm does); finetune.bn
//     frozen|frozen_stats and BN recalibration apply to those modules only.
#pragma once
#include <string>

#include "layers/module.h"

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

// Python's repr() of a float ("1e-05", "0.1", "1.0"), for PyTorch-identical printouts.
std::string py_float(double v);
inline const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace nf
