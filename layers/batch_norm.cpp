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

std::string BatchNorm::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  NF_CHECK(has_running_stats(), "export: " + p + " (" + type_name() +
                                    ") has no running statistics (track_running_stats: false): it normalizes "
                                    "each batch by itself, which has no inference form");
  return onnx_batch_norm(g, *this, state_.running_mean, state_.running_var, p, x);
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

namespace {

ModulePtr make_batch_norm(const LayerSpec& l, const Shape& in, Shape& out) {
  BatchNormOptions o;
  o.eps = l.f("eps");
  o.momentum = l.opt("momentum");
  o.affine = l.b("affine");
  o.track_running_stats = l.b("track_running_stats");
  if (auto v = l.opt("virtual_batch")) o.virtual_batch = static_cast<int64_t>(*v);
  o.sync = l.b("sync");
  if (o.sync && o.virtual_batch) layer_error(l, "sync and virtual_batch exclude each other (ghost batches are per rank)");
  out = in;
  if (in.size() == 3) return std::make_shared<BatchNorm2d>(in[0], o);
  if (in.size() == 1) return std::make_shared<BatchNorm1d>(in[0], o);
  layer_error(l, "takes [N, C, H, W] or [N, F], got " + per_sample(in));
}

}  // namespace

LayerType batch_norm_layer_type() {
  using A = ArgSpec;
  return {{{"momentum", A::Float, 0.1, 0, 1, true}, layer_args::eps, layer_args::affine,
           {"track_running_stats", A::Bool, 1.0}, {"virtual_batch", A::Int, std::nullopt, 2, layer_args::kBig, true},
           {"sync", A::Bool, 0.0}},
          make_batch_norm};
}

}  // namespace nf
