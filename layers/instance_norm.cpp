// InstanceNorm1d/2d (see instance_norm.h): parameters and buffers, the input checks, the
// call to ops::instance_norm, recalibration, the ONNX form and the registry entry.
#include "layers/instance_norm.h"

#include "framework/autograd/autograd.h"
#include "framework/ops/instance_norm.h"
#include "layers/onnx_graph.h"

namespace nf {

InstanceNorm::InstanceNorm(int64_t num_features, InstanceNormOptions options, int64_t rank)
    : Norm("InstanceNorm", num_features, options.eps, options.affine), options_(options), rank_(rank) {
  NF_CHECK(options.momentum >= 0 && options.momentum <= 1,
           "InstanceNorm: momentum must be in [0, 1], got " + py_float(options.momentum));
  if (options.track_running_stats) {
    state_.running_mean = register_buffer("running_mean", Tensor::zeros({num_features}));
    state_.running_var = register_buffer("running_var", Tensor::ones({num_features}));
    state_.num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I64));
  }
}

Tensor InstanceNorm::forward(const Tensor& x) {
  NF_CHECK(x.dim() == rank_, type_name() + ": expected " + std::to_string(rank_) + "D input, got shape " +
                                 shape_str(x.shape()));
  NF_CHECK(x.size(1) == num_features_, type_name() + "(" + std::to_string(num_features_) + "): input has " +
                                           std::to_string(x.size(1)) + " channels (shape " + shape_str(x.shape()) +
                                           "), expected " + std::to_string(num_features_));
  const bool use_input_stats = is_training() || !options_.track_running_stats;
  const double momentum =
      recalibration_batches_ >= 0 && use_input_stats ? 1.0 / ++recalibration_batches_ : options_.momentum;
  return ops::instance_norm(x, weight_, bias_, state_, use_input_stats, momentum, options_.eps);
}

std::string InstanceNorm::extra_repr() const {
  return std::to_string(num_features_) + ", eps=" + py_float(options_.eps) + ", momentum=" +
         py_float(options_.momentum) + ", affine=" + py_bool(options_.affine) +
         ", track_running_stats=" + py_bool(options_.track_running_stats);
}

std::string InstanceNorm::to_onnx(OnnxGraph& g, const std::string& p, const std::string& x) {
  if (options_.track_running_stats) return onnx_batch_norm(g, *this, state_.running_mean, state_.running_var, p, x);
  const int64_t c = num_features_;
  const std::string scale = weight_.defined() ? g.initializer(onnx_name(p, "weight"), weight_)
                                              : g.initializer(onnx_name(p, "weight"), {c}, std::vector<float>(c, 1.f));
  const std::string shift = bias_.defined() ? g.initializer(onnx_name(p, "bias"), bias_)
                                            : g.initializer(onnx_name(p, "bias"), {c}, std::vector<float>(c, 0.f));
  return g.node("InstanceNormalization", {x, scale, shift}, p, {{"epsilon", options_.eps}});
}

void InstanceNorm::start_recalibration() {
  if (!options_.track_running_stats) return;
  NoGradGuard ng;
  state_.running_mean.fill_(0.0);
  state_.running_var.fill_(1.0);
  recalibration_batches_ = 0;
}

void InstanceNorm::end_recalibration() { recalibration_batches_ = -1; }

namespace {

ModulePtr make_instance_norm(const LayerSpec& l, const Shape& in, Shape& out) {
  if (in.size() != 3 && in.size() != 2) layer_error(l, "takes [N, C, H, W] or [N, C, L], got " + per_sample(in));
  if (shape_numel(in) == in[0])
    layer_error(l, "needs more than one value per channel of each sample, got " + per_sample(in) +
                       " (each value would normalize to 0)");
  InstanceNormOptions o;
  o.eps = l.f("eps");
  o.momentum = l.f("momentum");
  o.affine = l.b("affine");
  o.track_running_stats = l.b("track_running_stats");
  out = in;
  if (in.size() == 3) return std::make_shared<InstanceNorm2d>(in[0], o);
  return std::make_shared<InstanceNorm1d>(in[0], o);
}

}  // namespace

LayerType instance_norm_layer_type() {
  using A = ArgSpec;
  return {{{"momentum", A::Float, 0.1, 0, 1}, layer_args::eps, {"affine", A::Bool, 0.0},
           {"track_running_stats", A::Bool, 0.0}},
          make_instance_norm};
}

}  // namespace nf
