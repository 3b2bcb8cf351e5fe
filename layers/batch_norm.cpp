// BatchNorm1d/2d: registration of parameters/buffers, input checks, the PyTorch-style
// printout, and the call to ops::batch_norm (shapes in layers/batch_norm.h).
#include "layers/batch_norm.h"

#include "framework/autograd/autograd.h"
#include "framework/distributed/process_group.h"
#include "framework/ops/sync_batch_norm.h"

namespace nf {

BatchNorm::BatchNorm(int64_t num_features, BatchNormOptions options)
    : Norm("BatchNorm", num_features, options.eps, options.affine), options_(options) {
  ops::check_virtual_batch(options.virtual_batch);
  NF_CHECK(!options.sync || !options.virtual_batch,
           "BatchNorm: sync and virtual_batch exclude each other (ghost batches are per rank)");
  if (options.track_running_stats) {
    state_.running_mean = register_buffer("running_mean", Tensor::zeros({num_features}));
    state_.running_var = register_buffer("running_var", Tensor::ones({num_features}));
    state_.num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I64));
  }
}

Tensor BatchNorm::forward(const Tensor& x) { return normalize(x, Tensor(), false); }

Tensor BatchNorm::forward_fused(const Tensor& x, const Tensor& residual, bool relu) {
  Tensor y = normalize(x, residual, relu);
  run_forward_hook(x, y);
  return y;
}

Tensor BatchNorm::normalize(const Tensor& x, const Tensor& residual, bool relu) {
  NF_CHECK(accepts_rank(x.dim()), type_name() + ": expected " + expected_ranks() + " input, got shape " +
                                      shape_str(x.shape()));
  NF_CHECK(x.size(1) == num_features_, type_name() + "(" + std::to_string(num_features_) + "): input has " +
                                           std::to_string(x.size(1)) + " channels (shape " + shape_str(x.shape()) +
                                           "), expected " + std::to_string(num_features_));
  const bool use_batch_stats = is_training() || !options_.track_running_stats;
  if (use_batch_stats && options_.sync && dist::world().distributed())
    return ops::sync_batch_norm(x, weight_, bias_, state_, options_.momentum, options_.eps, {residual, relu},
                                dist::world());
  return ops::batch_norm(x, weight_, bias_, state_, use_batch_stats, options_.momentum, options_.eps,
                         {residual, relu}, options_.virtual_batch);
}

std::string BatchNorm::extra_repr() const {
  return std::to_string(num_features_) + ", eps=" + py_float(options_.eps) +
         ", momentum=" + (options_.momentum ? py_float(*options_.momentum) : "None") +
         ", affine=" + py_bool(options_.affine) + ", track_running_stats=" + py_bool(options_.track_running_stats) +
         (options_.virtual_batch ? ", virtual_batch=" + std::to_string(*options_.virtual_batch) : "") +
         (options_.sync ? ", sync=True" : "");
}

void BatchNorm::start_recalibration() {
  if (!options_.track_running_stats) return;
  NoGradGuard ng;
  state_.running_mean.fill_(0.0);
  state_.running_var.fill_(1.0);
  state_.num_batches_tracked.fill_(0.0);
  configured_momentum_ = options_.momentum;
  options_.momentum = std::nullopt;
}

void BatchNorm::end_recalibration() {
  if (options_.track_running_stats) options_.momentum = configured_momentum_;
}

}  // namespace nf
