// Pooling ops and layers, per device (device_test.h): finite-difference gradchecks on odd
// shapes (batch 1 and 3, 7x5 and friends, stride 1 and 2, padding 0 and 1), PyTorch parity
// of outputs and input gradients (tests/parity/ref_pool.py), hand-made values, argument
// errors and the layers; oneDNN's primitive caching (CPU only).
#include <algorithm>
#include <numeric>

#include "device_test.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/eltwise.h"
#include "framework/ops/pool.h"
#include "layers/pooling.h"

using namespace nf;
using namespace nf::test;

namespace {

// Distinct values 0.05 apart in random order: every window has one maximum, and a
// finite-difference step of 1e-2 never changes which element wins.
Tensor distinct(const Shape& shape, uint64_t seed) {
  std::vector<float> v(shape_numel(shape));
  std::iota(v.begin(), v.end(), 0.f);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  for (float& x : v) x = 0.05f * (x - v.size() / 2.f);
  return param(Tensor::from_vector(v, shape));
}

std::string window_name(const char* op, const Shape& s, int64_t k, int64_t st, int64_t p) {
  return std::string(op) + " " + shape_str(s) + " k" + std::to_string(k) + "s" + std::to_string(st) + "p" +
         std::to_string(p);
}

struct Win {
  int64_t k, s, p;
};
const Win kWindows[] = {{3, 2, 1}, {2, 2, 0}, {3, 1, 0}, {3, 1, 1}, {3, 2, 0}};

}  // namespace

NF_DEVICE_TEST_SUITE(Pool);

TEST_P(Pool, MaxGradcheck) {
  for (int64_t n : {1, 3})
    for (const Win& w : kWindows) {
      Shape s{n, 2, 7, 5};
      gradcheck(window_name("max_pool2d", s, w.k, w.s, w.p),
                [w](auto& in) { return ops::max_pool2d(in[0], w.k, w.s, w.p); }, {distinct(s, 10 + n)});
    }
}

TEST_P(Pool, AvgGradcheck) {
  for (int64_t n : {1, 3})
    for (const Win& w : kWindows) {
      Shape s{n, 2, 7, 5};
      gradcheck(window_name("avg_pool2d", s, w.k, w.s, w.p),
                [w](auto& in) { return ops::avg_pool2d(in[0], w.k, w.s, w.p); }, {param(randn(s, 20 + n))});
    }
}

TEST_P(Pool, AdaptiveGradcheck) {
  struct Case {
    Shape s;
    int64_t oh, ow;
  };
  // 1x1 over 5x7 (oneDNN, non-square window), 8x6 -> 4x3 (oneDNN, uniform bins),
  // 5x7 -> 3x2 and 3x4 -> 4x5 (loops: unequal and overlapping bins).
  for (const Case& c : {Case{{3, 2, 5, 7}, 1, 1}, Case{{1, 2, 5, 7}, 1, 1}, Case{{3, 2, 8, 6}, 4, 3},
                        Case{{1, 2, 5, 7}, 3, 2}, Case{{3, 2, 5, 7}, 3, 2}, Case{{3, 2, 3, 4}, 4, 5}}) {
    gradcheck("adaptive_avg_pool2d " + shape_str(c.s) + " -> " + std::to_string(c.oh) + "x" + std::to_string(c.ow),
              [c](auto& in) { return ops::adaptive_avg_pool2d(in[0], c.oh, c.ow); }, {param(randn(c.s, 30))});
  }
}

TEST_P(Pool, ParityWithPyTorch) {
  for (const char* name : {"pool_max_k3s2p1", "pool_max_k2s2p0", "pool_max_k3s1p0", "pool_avg_k3s2p1",
                           "pool_avg_k2s2p0", "pool_avg_k3s1p1", "pool_adaptive_1x1", "pool_adaptive_4x3",
                           "pool_adaptive_3x2", "pool_adaptive_4x5"}) {
    SCOPED_TRACE(name);
    io::TensorDict ref = load_ref(name);
    std::vector<int64_t> a = ref.at("args").to_int_vector();
    Tensor x = dparam(ref.at("x"));
    const std::string n(name);
    Tensor y = n.find("max") != std::string::npos   ? ops::max_pool2d(x, a[0], a[1], a[2])
               : n.find("avg") != std::string::npos ? ops::avg_pool2d(x, a[0], a[1], a[2])
                                                    : ops::adaptive_avg_pool2d(x, a[0], a[1]);
    y.backward(dev(ref.at("gy")));
    expect_close(n + " y", y, ref.at("y"), 1e-5);
    expect_close(n + " dx", x.grad(), ref.at("gx"), 1e-5);
  }
}

TEST_P(Pool, HandMadeValues) {
  // 1x1x3x3 = 1..9: max 2x2 stride 1 -> [[5,6],[8,9]]; avg 3x3 padding 1 counts the zeros.
  Tensor x = dev(Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}));
  EXPECT_EQ(ops::max_pool2d(x, 2, 1, 0).to_vector(), (std::vector<float>{5, 6, 8, 9}));
  std::vector<float> avg = ops::avg_pool2d(x, 3, 2, 1).to_vector();  // windows at -1 and 1
  ASSERT_EQ(avg.size(), 4u);
  EXPECT_FLOAT_EQ(avg[0], (1 + 2 + 4 + 5) / 9.f);
  EXPECT_FLOAT_EQ(avg[3], (5 + 6 + 8 + 9) / 9.f);
  EXPECT_FLOAT_EQ(ops::adaptive_avg_pool2d(x, 1, 1).item(), 5.f);
  // Max with padding: padded cells never win, even over negative values.
  Tensor neg = ops::mul_scalar(x, -1.f);
  EXPECT_EQ(ops::max_pool2d(neg, 2, 2, 1).to_vector(), (std::vector<float>{-1, -2, -4, -5}));
}

TEST_P(Pool, NoGradForwardMatchesTrainingForward) {
  Tensor x = dev(distinct({2, 3, 9, 7}, 5));
  Tensor y_train = ops::max_pool2d(x, 3, 2, 1);
  Tensor y_eval;
  {
    NoGradGuard ng;
    y_eval = ops::max_pool2d(x, 3, 2, 1);
  }
  EXPECT_FALSE(y_eval.requires_grad());
  expect_bitwise_equal("max_pool2d eval vs train", y_eval, y_train);
}

TEST(PoolCpu, PrimitivesAreCached) {
  Tensor x = param(randn({2, 3, 9, 7}, 6));
  auto step = [&] {
    for (Tensor y : {ops::max_pool2d(x, 3, 2, 1), ops::avg_pool2d(x, 2, 2, 0), ops::adaptive_avg_pool2d(x, 1, 1)})
      y.backward(Tensor::ones(y.shape()));
  };
  step();
  size_t n = cpu::cache_size();
  step();
  EXPECT_EQ(cpu::cache_size(), n);
}

TEST_P(Pool, BadArgumentsThrow) {
  Tensor x = dev(randn({1, 2, 5, 5}, 7));
  EXPECT_THROW(ops::max_pool2d(x, 2, 2, 2), Error);        // padding > kernel/2
  EXPECT_THROW(ops::avg_pool2d(x, 3, 0, 0), Error);        // stride 0
  EXPECT_THROW(ops::max_pool2d(x, 0, 1, 0), Error);        // kernel 0
  EXPECT_THROW(ops::avg_pool2d(x, 8, 1, 1), Error);        // window larger than the padded input
  EXPECT_THROW(ops::max_pool2d(dev(randn({2, 5, 5}, 8)), 2, 2, 0), Error);  // not 4-d
  EXPECT_THROW(ops::adaptive_avg_pool2d(x, 0, 1), Error);
  try {
    ops::max_pool2d(x, 3, 1, 2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_pool2d: padding must be at most half the kernel size"),
              std::string::npos)
        << e.what();
  }
}

TEST_P(Pool, Layers) {
  MaxPool2d mp(3, -1, 1);
  EXPECT_EQ(mp.type_name() + "(" + mp.extra_repr() + ")",
            "MaxPool2d(kernel_size=3, stride=3, padding=1, dilation=1, ceil_mode=False)");
  AvgPool2d ap(2);
  EXPECT_EQ(ap.extra_repr(), "kernel_size=2, stride=2, padding=0");
  AdaptiveAvgPool2d gap(1, 1);
  EXPECT_EQ(gap.extra_repr(), "output_size=(1, 1)");
  Tensor x = dev(randn({3, 4, 8, 8}, 9));
  EXPECT_EQ(mp(x).shape(), (Shape{3, 4, 3, 3}));
  expect_bitwise_equal("AvgPool2d layer", ap(x), ops::avg_pool2d(x, 2, 2, 0));
  expect_bitwise_equal("AdaptiveAvgPool2d layer", gap(x), ops::adaptive_avg_pool2d(x, 1, 1));
  EXPECT_TRUE(mp.named_parameters().empty());
}
