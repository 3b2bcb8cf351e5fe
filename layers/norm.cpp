// Norm (see norm.h): parameters, the finders, the shared ONNX forms, py_float.
#include "layers/norm.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "layers/onnx_graph.h"

namespace nf {

Norm::Norm(const std::string& type, int64_t num_features, double eps, bool affine) : num_features_(num_features), eps_(eps) {
  NF_CHECK(num_features > 0, type + ": num_features must be positive, got " + std::to_string(num_features));
  NF_CHECK(eps > 0, type + ": eps must be positive, got " + py_float(eps));
  if (!affine) return;
  weight_ = register_parameter("weight", Tensor::ones({num_features}));
  bias_ = register_parameter("bias", Tensor::zeros({num_features}));
}

Named<Norm*> named_norms(const Module& model) {
  Named<Norm*> out;
  for (auto& [name, m] : model.named_modules())
    if (auto* n = dynamic_cast<Norm*>(m.get())) out.emplace_back(name, n);
  return out;
}

std::vector<Norm*> running_stat_norms(const Module& model) {
  std::vector<Norm*> out;
  for (auto& [name, n] : named_norms(model))
    if (n->has_running_stats()) out.push_back(n);
  return out;
}

std::string onnx_batch_norm(OnnxGraph& g, const Norm& norm, const Tensor& running_mean, const Tensor& running_var,
                            const std::string& p, const std::string& x) {
  const int64_t c = norm.num_features();
  const std::string scale = norm.weight().defined() ? g.initializer(onnx_name(p, "weight"), norm.weight())
                                                    : g.initializer(onnx_name(p, "weight"), {c}, std::vector<float>(c, 1.f));
  const std::string shift = norm.bias().defined() ? g.initializer(onnx_name(p, "bias"), norm.bias())
                                                  : g.initializer(onnx_name(p, "bias"), {c}, std::vector<float>(c, 0.f));
  return g.node("BatchNormalization",
                {x, scale, shift, g.initializer(onnx_name(p, "running_mean"), running_mean),
                 g.initializer(onnx_name(p, "running_var"), running_var)},
                p, {{"epsilon", norm.eps()}});
}

std::string onnx_group_norm(OnnxGraph& g, const Norm& norm, int64_t groups, const std::string& p, const std::string& x) {
  const Shape s = g.input_shape(norm, p);
  std::vector<int64_t> back{0};
  back.insert(back.end(), s.begin(), s.end());
  const std::string grouped =
      g.node("Reshape", {x, g.initializer_i64(onnx_name(p, "group_shape"), {0, groups, -1})}, onnx_name(p, "grouped"));
  const std::string normed =
      g.node("InstanceNormalization",
             {grouped, g.initializer(onnx_name(p, "unit_scale"), {groups}, std::vector<float>(groups, 1.f)),
              g.initializer(onnx_name(p, "zero_shift"), {groups}, std::vector<float>(groups, 0.f))},
             onnx_name(p, "normalized"), {{"epsilon", norm.eps()}});
  std::string y = g.node("Reshape", {normed, g.initializer_i64(onnx_name(p, "shape"), back)}, onnx_name(p, "ungrouped"));
  if (!norm.weight().defined()) return y;
  Shape affine{s[0]};  // [C, 1, 1]: broadcast over the spatial dimensions
  affine.resize(s.size(), 1);
  y = g.node("Mul", {y, g.initializer(onnx_name(p, "weight"), affine, norm.weight().to_vector())}, onnx_name(p, "scaled"));
  return g.node("Add", {y, g.initializer(onnx_name(p, "bias"), affine, norm.bias().to_vector())}, p);
}

// Shortest round-trip digits; exponent form when the decimal point falls outside (-4, 16].
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

}  // namespace nf
