#include "layers/dropout.h"

#include <charconv>

#include "framework/ops/dropout.h"

namespace nf {

Dropout::Dropout(double p) : Dropout(p, default_generator()) {}

Dropout::Dropout(double p, Generator& gen) : p_(p), gen_(&gen) {
  NF_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability must be in [0, 1], got " + std::to_string(p));
}

Tensor Dropout::forward(const Tensor& x) { return ops::dropout(x, p_, is_training(), *gen_); }

std::string Dropout::extra_repr() const {
  char buf[32];
  std::string p(buf, std::to_chars(buf, buf + sizeof buf, p_).ptr);  // shortest round-trip, as Python's repr
  if (p.find_first_of(".e") == std::string::npos) p += ".0";
  return "p=" + p + ", inplace=False";
}

namespace {

ModulePtr make_dropout(const LayerSpec& l, const Shape& in, Shape& out) {
  out = in;
  return std::make_shared<Dropout>(l.f("p"));
}

}  // namespace

LayerType dropout_layer_type() { return {{{"p", ArgSpec::Float, 0.5, 0, 0.999}}, make_dropout}; }

}  // namespace nf
