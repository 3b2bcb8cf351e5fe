// Shared test helpers: random tensors, closeness checks that report the observed
// error, finite-difference gradient checks, and the PyTorch reference dumps.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/core/tensor.h"
#include "framework/io/safetensors.h"
#include "framework/ops/conv.h"
#include "random_tensors.h"

namespace nf::test {

// Max absolute and relative (|a-b| / max(|b|, floor)) differences, printed so the
// observed tolerances can be quoted, then asserted.
inline void expect_close(const std::string& what, const Tensor& actual, const Tensor& expected, double rtol,
                         double atol = 1e-6) {
  ASSERT_TRUE(actual.defined()) << what << ": undefined";
  ASSERT_EQ(shape_str(actual.shape()), shape_str(expected.shape())) << what;
  std::vector<float> a = actual.to_vector(), b = expected.to_vector();
  double max_abs = 0, max_rel = 0, max_b = 0;
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < a.size(); ++i) max_b = std::max(max_b, (double)std::fabs(b[i]));
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs((double)a[i] - b[i]);
    max_abs = std::max(max_abs, d);
    max_rel = std::max(max_rel, d / std::max((double)std::fabs(b[i]), 1e-3 * max_b + 1e-12));
    if (!(d <= atol + rtol * std::fabs(b[i]))) {
      if (!bad) first_bad = i;
      ++bad;
    }
  }
  std::printf("[close] %-40s max_abs=%.3g max_rel=%.3g (n=%zu)\n", what.c_str(), max_abs, max_rel, a.size());
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << a.size() << " elements off; first at " << first_bad
                     << ": " << (a.empty() ? 0 : a[first_bad]) << " vs " << (b.empty() ? 0 : b[first_bad])
                     << " (rtol " << rtol << ", atol " << atol << ")";
}

inline void expect_bitwise_equal(const std::string& what, const Tensor& a, const Tensor& b) {
  ASSERT_EQ(shape_str(a.shape()), shape_str(b.shape())) << what;
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  EXPECT_EQ(0, std::memcmp(x.raw_data(), y.raw_data(), x.nbytes())) << what << " differs bitwise";
}

// Finite-difference gradient check on `device`. f maps inputs to one output y; the check
// uses L = sum(y * R) for a fixed random R, central differences with step eps, sums in
// double. `inputs` are host tensors; every call of f gets them copied to the device
// (same values and memory format; the analytic pass as fresh leaves), and the perturbed
// ones are made on the host and copied again, so f runs on the device throughout.
// Checks every input with requires_grad; at most max_elems entries each (spread over
// the tensor, indexed in logical row-major order).
using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;
inline void gradcheck(Device device, const std::string& what, const GradFn& f, const std::vector<Tensor>& inputs,
                      double eps = 1e-2, double rtol = 2e-2, double atol = 2e-3, int64_t max_elems = 200) {
  auto on_device = [&](const Tensor& t) {
    if (!t.defined() || t.device() == device) return t.defined() && t.requires_grad() ? t.detach().clone() : t;
    return t.detach().to(device);
  };
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    Tensor d = on_device(x);
    if (x.defined() && x.requires_grad()) d.set_requires_grad(true);
    leaves.push_back(d);
  }
  Tensor y = f(leaves);
  Tensor R = randn(y.shape(), 1234);
  std::vector<float> r = R.to_vector();
  y.backward(R.to(device));
  auto loss = [&](const std::vector<Tensor>& in) {
    NoGradGuard ng;
    std::vector<float> v = f(in).to_vector();
    double s = 0;
    for (size_t i = 0; i < v.size(); ++i) s += (double)v[i] * r[i];
    return s;
  };
  std::vector<Tensor> plain;  // the inputs on the device, no gradient wanted
  for (const Tensor& x : inputs) plain.push_back(x.defined() ? on_device(x).detach() : x);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    ASSERT_TRUE(leaves[k].grad().defined()) << what << ": input " << k << " got no gradient";
    std::vector<float> g = leaves[k].grad().to_vector();
    std::vector<float> v = x.to_vector();  // logical order
    const MemoryFormat format = x.memory_format() == MemoryFormat::Blocked16 && !device.is_cpu()
                                    ? MemoryFormat::ChannelsLast
                                    : x.memory_format();
    auto with = [&](int64_t i, float value) {
      std::vector<float> p = v;
      p[i] = value;
      std::vector<Tensor> in = plain;
      in[k] = Tensor::from_vector(p, x.shape()).contiguous(format).to(device);
      return loss(in);
    };
    int64_t n = x.numel(), step = std::max<int64_t>(1, n / max_elems);
    double max_err = 0;
    for (int64_t i = 0; i < n; i += step) {
      const float orig = v[i];
      double lp = with(i, orig + (float)eps);
      double lm = with(i, orig - (float)eps);
      double num = (lp - lm) / (2 * eps);
      double err = std::fabs(num - g[i]);
      max_err = std::max(max_err, err / (atol + rtol * std::fabs(num)));
      EXPECT_LE(err, atol + rtol * std::fabs(num))
          << what << ": d/dinput" << k << "[" << i << "] numeric " << num << " analytic " << g[i] << " on "
          << device.str();
      if (err > atol + rtol * std::fabs(num)) return;  // one report per check is enough
    }
    std::printf("[gradcheck] %-32s input %zu: max err/tol = %.3f (%s)\n", what.c_str(), k, max_err,
                device.str().c_str());
  }
}

// f() must throw an nf::Error whose message is exactly `message`.
inline void expect_error_is(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

// Reference tensors written by tests/parity/ref_*.py (PyTorch 1.13) at build time.
// $NF_PARITY_DIR, when set, replaces the build's folder (a GPU machine's bundle ships them).
inline io::TensorDict load_ref(const std::string& name) {
  const char* env = std::getenv("NF_PARITY_DIR");
  const std::string dir = env && *env ? env : NF_PARITY_DIR;
  return io::load_safetensors(dir + "/" + name + ".safetensors");
}

// Sets the CPU convolution algorithm for one scope (tests that compare with PyTorch's
// numbers run Direct, the kernels PyTorch runs).
struct ConvAlgorithmScope {
  ops::CpuConvAlgorithm saved = ops::cpu_conv_algorithm();
  explicit ConvAlgorithmScope(ops::CpuConvAlgorithm a) { ops::set_cpu_conv_algorithm(a); }
  ~ConvAlgorithmScope() { ops::set_cpu_conv_algorithm(saved); }
};

// The affine parameters of a normalization's gradient check: none, learning, or given
// but frozen (no gradient wanted). affine_tag() names the case in messages.
enum class Affine { None, Learn, Frozen };
inline const char* affine_tag(Affine a) {
  return a == Affine::Learn ? "affine" : a == Affine::None ? "no affine" : "frozen affine";
}
struct AffineParams {
  Tensor weight, bias;  // [C]: uniform in [0.5, 1.5] (seed), normal (seed + 1); undefined for None
};
inline AffineParams affine_params(int64_t C, Affine a, uint64_t seed) {
  if (a == Affine::None) return {};
  AffineParams p{uniform({C}, seed, 0.5f, 1.5f), randn({C}, seed + 1)};
  p.weight.set_requires_grad(a == Affine::Learn);
  p.bias.set_requires_grad(a == Affine::Learn);
  return p;
}

inline Tensor param(Tensor t) {
  t = t.clone();
  t.set_requires_grad(true);
  return t;
}

}  // namespace nf::test
