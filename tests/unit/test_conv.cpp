// conv2d (framework/ops/conv.h) and the Conv2d layer, per device (device_test.h):
// finite-difference gradients of input, weight and bias on odd shapes, PyTorch parity
// (tests/parity/ref_conv.py), shape errors, the layer's forward; oneDNN's primitive
// caching (CPU only); the layer's parameters and initialization (host).
#include <algorithm>
#include <cmath>

#include "device_test.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/core/random.h"
#include "framework/ops/conv.h"
#include "layers/conv2d.h"

using namespace nf;
using namespace nf::test;

namespace {

struct GradCase {
  const char* name;
  Shape x, w;
  ops::Conv2dParams p;
  bool bias;
};

void conv_gradcheck(Device d, const GradCase& c, bool grad_x = true, bool grad_w = true, bool grad_b = true) {
  Tensor x = randn(c.x, 11), w = randn(c.w, 12, 0.5f);
  Tensor b = c.bias ? randn({c.w[0]}, 13) : Tensor();
  x.set_requires_grad(grad_x);
  w.set_requires_grad(grad_w);
  if (b.defined()) b.set_requires_grad(grad_b);
  ops::Conv2dParams p = c.p;
  gradcheck(d, c.name, [p](auto& in) { return ops::conv2d(in[0], in[1], in[2], p); }, {x, w, b});
}

// atol scaled to the reference's magnitude: a sum of many products is exact to ~1e-7
// of its terms, not of its (possibly cancelled) value.
void expect_close_scaled(const std::string& what, const Tensor& actual, const Tensor& expected) {
  double max_ref = 0;
  for (float v : expected.to_vector()) max_ref = std::max(max_ref, (double)std::fabs(v));
  expect_close(what, actual, expected, 1e-4, 1e-5 * std::max(1.0, max_ref));
}

}  // namespace

NF_DEVICE_TEST_SUITE(ConvGradcheck);
NF_DEVICE_TEST_SUITE(ConvParity);
NF_DEVICE_TEST_SUITE(ConvErrors);
NF_DEVICE_TEST_SUITE(Conv2dLayerForward);

TEST_P(ConvGradcheck, Batch1NonSquarePad1) {
  conv_gradcheck(device(), {"b1 7x5 pad1", {1, 3, 7, 5}, {4, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1}, true});
}
TEST_P(ConvGradcheck, Batch3Stride2Pad0) {
  conv_gradcheck(device(), {"b3 7x5 stride2 pad0", {3, 2, 7, 5}, {3, 2, 3, 3}, {2, 2, 0, 0, 1, 1, 1}, true});
}
TEST_P(ConvGradcheck, Groups2NoBias) {
  conv_gradcheck(device(), {"b3 groups2 nobias", {3, 4, 6, 5}, {6, 2, 3, 3}, {1, 1, 1, 1, 1, 1, 2}, false});
}
TEST_P(ConvGradcheck, Dilation2) {
  conv_gradcheck(device(), {"b1 dilation2", {1, 2, 7, 8}, {2, 2, 3, 3}, {1, 1, 1, 1, 2, 2, 1}, true});
}
TEST_P(ConvGradcheck, AsymmetricStridePadDilationKernel) {
  conv_gradcheck(device(), {"asym s(2,1) p(0,1) d(1,2) k3x2", {3, 4, 9, 6}, {4, 2, 3, 2}, {2, 1, 0, 1, 1, 2, 2}, true});
}
TEST_P(ConvGradcheck, BlockedLayoutsStride2) {  // 16 channels: oneDNN picks blocked layouts
  conv_gradcheck(device(), {"blocked 16ch stride2", {2, 16, 5, 4}, {16, 16, 3, 3}, {2, 2, 1, 1, 1, 1, 1}, true});
}
TEST_P(ConvGradcheck, PartialGradients) {
  GradCase c{"", {3, 3, 5, 7}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 1}, true};
  c.name = "only x";
  conv_gradcheck(device(), c, true, false, false);
  c.name = "only w";
  conv_gradcheck(device(), c, false, true, false);
  c.name = "only bias (reduction)";
  conv_gradcheck(device(), c, false, false, true);
  c.name = "w and bias, not x";
  conv_gradcheck(device(), c, false, true, true);
}

TEST_P(ConvParity, MatchesPyTorch) {
  for (const char* name : {"basic", "stride2_nopad", "blocked_s2", "blocked_s1", "proj1x1", "groups2_dil2",
                           "depthwise", "asym"}) {
    SCOPED_TRACE(name);
    io::TensorDict r = load_ref(std::string("conv_") + name);
    std::vector<int64_t> q = r.at("params").to_int_vector();
    ops::Conv2dParams p{q[0], q[1], q[2], q[3], q[4], q[5], q[6]};
    Tensor x = dparam(r.at("x")), w = dparam(r.at("w"));
    Tensor b = r.count("b") ? dparam(r.at("b")) : Tensor();
    Tensor y = ops::conv2d(x, w, b, p);
    y.backward(dev(r.at("gy")));
    std::string n = name;
    expect_close_scaled(n + " y", y, r.at("y"));
    expect_close_scaled(n + " grad x", x.grad(), r.at("gx"));
    expect_close_scaled(n + " grad w", w.grad(), r.at("gw"));
    if (b.defined()) expect_close_scaled(n + " grad b", b.grad(), r.at("gb"));
    NoGradGuard ng;  // the inference primitive gives the same output
    expect_close_scaled(n + " y (inference)", ops::conv2d(x, w, b, p), r.at("y"));
  }
}

TEST(ConvCache, SecondIdenticalCallBuildsNothing) {
  ops::Conv2dParams p{2, 2, 1, 1, 1, 1, 1};
  auto step = [&] {
    Tensor x = param(randn({2, 16, 9, 7}, 1)), w = param(randn({32, 16, 3, 3}, 2)), b = param(randn({32}, 3));
    ops::conv2d(x, w, b, p).backward(randn({2, 32, 5, 4}, 4));
    NoGradGuard ng;
    ops::conv2d(x, w, b, p);
  };
  step();
  size_t n = cpu::cache_size();
  step();
  EXPECT_EQ(cpu::cache_size(), n);
}

TEST_P(ConvErrors, BadShapesThrow) {
  auto randn = [this](const Shape& s, uint64_t seed) { return dev(test::randn(s, seed)); };
  Tensor x = randn({2, 4, 8, 8}, 1), w = randn({6, 4, 3, 3}, 2);
  ops::Conv2dParams p;
  EXPECT_THROW(ops::conv2d(randn({4, 8, 8}, 1), w, Tensor(), p), Error);                     // 3-D input
  EXPECT_THROW(ops::conv2d(x, randn({6, 4, 3}, 2), Tensor(), p), Error);                     // 3-D weight
  EXPECT_THROW(ops::conv2d(x, randn({6, 3, 3, 3}, 2), Tensor(), p), Error);                  // channel mismatch
  EXPECT_THROW(ops::conv2d(x, randn({6, 4, 3, 3}, 2), Tensor(), {1, 1, 0, 0, 1, 1, 2}), Error);  // groups
  EXPECT_THROW(ops::conv2d(x, randn({5, 2, 3, 3}, 2), Tensor(), {1, 1, 0, 0, 1, 1, 2}), Error);  // O % groups
  EXPECT_THROW(ops::conv2d(x, randn({6, 4, 9, 3}, 2), Tensor(), p), Error);                  // kernel too big
  EXPECT_THROW(ops::conv2d(x, w, Tensor(), {1, 1, 0, 0, 4, 4, 1}), Error);                   // dilated too big
  EXPECT_THROW(ops::conv2d(x, w, randn({5}, 3), p), Error);                                  // bias shape
  EXPECT_THROW(ops::conv2d(x, w, Tensor(), {0, 1, 0, 0, 1, 1, 1}), Error);                   // stride 0
  EXPECT_NO_THROW(ops::conv2d(x, randn({6, 4, 9, 3}, 2), Tensor(), {1, 1, 1, 0, 1, 1, 1}));  // fits once padded
  try {
    ops::conv2d(x, randn({6, 3, 3, 3}, 2), Tensor(), p);
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("[2, 4, 8, 8]"), std::string::npos) << m;
    EXPECT_NE(m.find("[6, 3, 3, 3]"), std::string::npos) << m;
  }
}

TEST(Conv2dLayer, ParametersInitAndRepr) {
  manual_seed(7);
  Conv2d conv(6, 8, 3, {.stride = 2, .padding = 1, .groups = 2});
  auto params = conv.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(shape_str(params[0].second.shape()), "[8, 3, 3, 3]");
  EXPECT_EQ(params[1].first, "bias");
  EXPECT_EQ(shape_str(params[1].second.shape()), "[8]");
  EXPECT_TRUE(conv.weight().requires_grad());
  const float bound = 1.f / std::sqrt(27.f);  // fan_in = 6/2 * 3 * 3
  for (Tensor t : {conv.weight(), conv.bias()}) {
    std::vector<float> v = t.to_vector();
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    EXPECT_GE(*lo, -bound);
    EXPECT_LE(*hi, bound);
    EXPECT_LT(*lo, -0.5f * bound);  // spread over the range, not a constant
    EXPECT_GT(*hi, 0.5f * bound);
  }
  EXPECT_EQ(conv.extra_repr(), "6, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2");
  EXPECT_EQ(Conv2d(3, 16, 3, {.padding = 1, .bias = false}).extra_repr(),
            "3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False");

  manual_seed(7);
  Conv2d again(6, 8, 3, {.stride = 2, .padding = 1, .groups = 2});
  expect_bitwise_equal("same seed, same weight", again.weight(), conv.weight());
  expect_bitwise_equal("same seed, same bias", again.bias(), conv.bias());
}

TEST_P(Conv2dLayerForward, NoBiasAndForwardIsTheOp) {
  Conv2d conv(4, 6, 3, {.stride = 2, .padding = 1, .dilation = 2, .bias = false});
  conv.to(device());
  auto params = conv.named_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_FALSE(conv.bias().defined());
  Tensor x = dev(randn({3, 4, 9, 7}, 5));
  expect_bitwise_equal("layer forward", conv(x), ops::conv2d(x, conv.weight(), Tensor(), {2, 2, 1, 1, 2, 2, 1}));
  EXPECT_EQ(shape_str(conv(x).shape()), "[3, 6, 4, 3]");
}
