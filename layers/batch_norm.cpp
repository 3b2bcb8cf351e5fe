// BatchNorm1d/2d: registration of parameters/buffers, input checks, the PyTorch-style
// printout, and the call to ops::batch_norm (shapes in layers/batch_norm.h).
#include "layers/batch_norm.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "framework/autograd/autograd.h"

namespace nf {

namespace {

// Python's repr() of a float ("1e-05", "0.1", "1.0"), for PyTorch-identical printouts:
// shortest round-trip digits; exponent form when the decimal point falls outside (-4, 16].
std::string py_float(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  const size_t e = s.find('e');
  const int exp = std::atoi(s.c_str() + e + 1);
  std::string sign = s[0] == '-' ? "-" : "", digits;
  for (size_t i = sign.size(); i < e; ++i)
    if (s[i] != '.') digits += s[i];
  const int decpt = exp + 1, nd = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return sign + digits.substr(0, 1) + (nd > 1 ? "." + digits.substr(1) : "") + ebuf;
  }
  if (decpt <= 0) return sign + "0." + std::string(-decpt, '0') + digits;
  if (decpt >= nd) return sign + digits + std::string(decpt - nd, '0') + ".0";
  return sign + digits.substr(0, decpt) + "." + digits.substr(decpt);
}

const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace

BatchNorm::BatchNorm(int64_t num_features, BatchNormOptions options)
    : num_features_(num_features), options_(options) {
  NF_CHECK(num_features > 0, "BatchNorm: num_features must be positive, got " + std::to_string(num_features));
  NF_CHECK(options.eps > 0, "BatchNorm: eps must be positive, got " + py_float(options.eps));
  ops::check_virtual_batch(options.virtual_batch);
  if (options.affine) {
    weight_ = register_parameter("weight", Tensor::ones({num_features}));
    bias_ = register_parameter("bias", Tensor::zeros({num_features}));
  }
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
  return ops::batch_norm(x, weight_, bias_, state_, use_batch_stats, options_.momentum, options_.eps,
                         {residual, relu}, options_.virtual_batch);
}

std::string BatchNorm::extra_repr() const {
  return std::to_string(num_features_) + ", eps=" + py_float(options_.eps) +
         ", momentum=" + (options_.momentum ? py_float(*options_.momentum) : "None") +
         ", affine=" + py_bool(options_.affine) + ", track_running_stats=" + py_bool(options_.track_running_stats) +
         (options_.virtual_batch ? ", virtual_batch=" + std::to_string(*options_.virtual_batch) : "");
}

void BatchNorm::recalibrate_reset() {
  if (!options_.track_running_stats) return;
  NoGradGuard ng;
  state_.running_mean.fill_(0.0);
  state_.running_var.fill_(1.0);
  state_.num_batches_tracked.fill_(0.0);
}

}  // namespace nf
