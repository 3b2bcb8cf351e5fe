#include "layers/norm.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace nf {

Norm::Norm(const std::string& type, int64_t num_features, double eps, bool affine) : num_features_(num_features), eps_(eps) {
  NF_CHECK(num_features > 0, type + ": num_features must be positive, got " + std::to_string(num_features));
  NF_CHECK(eps > 0, type + ": eps must be positive, got " + py_float(eps));
  if (!affine) return;
  weight_ = register_parameter("weight", Tensor::ones({num_features}));
  bias_ = register_parameter("bias", Tensor::zeros({num_features}));
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
