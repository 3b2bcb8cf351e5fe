// linear (framework/ops/linear.h) and the Linear layer, per device (device_test.h):
// finite-difference gradients, PyTorch parity (tests/parity/ref_linear.py), shape
// errors, the layer's forward; oneDNN's primitive caching (CPU only); the layer's
// parameters and initialization (host).
#include <algorithm>
#include <cmath>

#include "device_test.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/core/random.h"
#include "framework/ops/linear.h"
#include "layers/linear.h"

using namespace nf;
using namespace nf::test;

namespace {

void linear_gradcheck(Device d, const std::string& what, const Shape& x_shape, int64_t out, bool bias,
                      bool grad_x = true, bool grad_w = true, bool grad_b = true) {
  Tensor x = randn(x_shape, 21), w = randn({out, x_shape[1]}, 22, 0.5f);
  Tensor b = bias ? randn({out}, 23) : Tensor();
  x.set_requires_grad(grad_x);
  w.set_requires_grad(grad_w);
  if (b.defined()) b.set_requires_grad(grad_b);
  gradcheck(d, what, [](auto& in) { return ops::linear(in[0], in[1], in[2]); }, {x, w, b});
}

}  // namespace

NF_DEVICE_TEST_SUITE(LinearGradcheck);
NF_DEVICE_TEST_SUITE(LinearParity);
NF_DEVICE_TEST_SUITE(LinearErrors);
NF_DEVICE_TEST_SUITE(LinearLayerForward);

TEST_P(LinearGradcheck, OddShapes) {
  linear_gradcheck(device(), "b1 7->3", {1, 7}, 3, true);
  linear_gradcheck(device(), "b3 5->4 nobias", {3, 5}, 4, false);
  linear_gradcheck(device(), "b3 17->9", {3, 17}, 9, true);
}

TEST_P(LinearGradcheck, PartialGradients) {
  linear_gradcheck(device(), "only x", {3, 6}, 5, true, true, false, false);
  linear_gradcheck(device(), "only w", {3, 6}, 5, true, false, true, false);
  linear_gradcheck(device(), "only bias (reduction)", {3, 6}, 5, true, false, false, true);
}

TEST_P(LinearParity, MatchesPyTorch) {
  for (const char* name : {"basic", "single", "nobias"}) {
    SCOPED_TRACE(name);
    io::TensorDict r = load_ref(std::string("linear_") + name);
    Tensor x = dparam(r.at("x")), w = dparam(r.at("w"));
    Tensor b = r.count("b") ? dparam(r.at("b")) : Tensor();
    Tensor y = ops::linear(x, w, b);
    y.backward(dev(r.at("gy")));
    std::string n = name;
    expect_close(n + " y", y, r.at("y"), 1e-4, 1e-5);
    expect_close(n + " grad x", x.grad(), r.at("gx"), 1e-4, 1e-5);
    expect_close(n + " grad w", w.grad(), r.at("gw"), 1e-4, 1e-5);
    if (b.defined()) expect_close(n + " grad b", b.grad(), r.at("gb"), 1e-4, 1e-5);
    NoGradGuard ng;
    expect_close(n + " y (inference)", ops::linear(x, w, b), r.at("y"), 1e-4, 1e-5);
  }
}

TEST(LinearCache, SecondIdenticalCallBuildsNothing) {
  auto step = [] {
    Tensor x = param(randn({8, 12}, 1)), w = param(randn({5, 12}, 2)), b = param(randn({5}, 3));
    ops::linear(x, w, b).backward(randn({8, 5}, 4));
    NoGradGuard ng;
    ops::linear(x, w, b);
  };
  step();
  size_t n = cpu::cache_size();
  step();
  EXPECT_EQ(cpu::cache_size(), n);
}

TEST_P(LinearErrors, BadShapesThrow) {
  Tensor x = dev(randn({4, 6}, 1)), w = dev(randn({3, 6}, 2));
  EXPECT_THROW(ops::linear(dev(randn({4, 6, 1}, 1)), w, Tensor()), Error);  // 3-D input
  EXPECT_THROW(ops::linear(x, dev(randn({18}, 2)), Tensor()), Error);       // 1-D weight
  EXPECT_THROW(ops::linear(x, dev(randn({3, 5}, 2)), Tensor()), Error);     // feature mismatch
  EXPECT_THROW(ops::linear(x, w, dev(randn({4}, 3))), Error);               // bias shape
  try {
    ops::linear(x, dev(randn({3, 5}, 2)), Tensor());
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("[4, 6]"), std::string::npos) << m;
    EXPECT_NE(m.find("[3, 5]"), std::string::npos) << m;
  }
}

TEST(LinearLayer, ParametersInitAndRepr) {
  manual_seed(3);
  Linear fc(64, 10);
  auto params = fc.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(shape_str(params[0].second.shape()), "[10, 64]");
  EXPECT_EQ(params[1].first, "bias");
  EXPECT_EQ(shape_str(params[1].second.shape()), "[10]");
  EXPECT_EQ(fc.in_features(), 64);
  EXPECT_EQ(fc.out_features(), 10);
  const float bound = 1.f / 8.f;  // 1/sqrt(64)
  for (Tensor t : {fc.weight(), fc.bias()}) {
    std::vector<float> v = t.to_vector();
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    EXPECT_GE(*lo, -bound);
    EXPECT_LE(*hi, bound);
    EXPECT_LT(*lo, -0.5f * bound);
    EXPECT_GT(*hi, 0.5f * bound);
  }
  EXPECT_EQ(fc.extra_repr(), "in_features=64, out_features=10, bias=True");

  manual_seed(3);
  Linear again(64, 10);
  expect_bitwise_equal("same seed, same weight", again.weight(), fc.weight());
  expect_bitwise_equal("same seed, same bias", again.bias(), fc.bias());
}

TEST_P(LinearLayerForward, NoBiasAndForwardIsTheOp) {
  Linear fc(7, 3, false);
  fc.to(device());
  ASSERT_EQ(fc.named_parameters().size(), 1u);
  EXPECT_FALSE(fc.bias().defined());
  EXPECT_EQ(fc.extra_repr(), "in_features=7, out_features=3, bias=False");
  Tensor x = dev(randn({5, 7}, 9));
  expect_bitwise_equal("layer forward", fc(x), ops::linear(x, fc.weight(), Tensor()));
}
