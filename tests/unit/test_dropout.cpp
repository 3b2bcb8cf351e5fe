// Dropout op and layer, per device (device_test.h): kept fraction close to 1-p on a large
// tensor, kept values bitwise x * (1.f / float(1 - p)) as PyTorch's CPU dropout computes
// them, the mask exactly the counter-based one of framework/core/counter_random.h over
// x's memory order (so CPU and CUDA draw the same mask; NCHW and channels-last), same
// seed -> same mask, identity in eval mode and for p == 0, zeros for p == 1, gradcheck
// with a fixed mask, backward = upstream gradient * mask.
#include <cmath>
#include <limits>

#include "device_test.h"
#include "framework/core/counter_random.h"
#include "framework/ops/dropout.h"
#include "layers/dropout.h"

using namespace nf;
using namespace nf::test;

NF_DEVICE_TEST_SUITE(DropoutOp);

TEST_P(DropoutOp, KeptFractionAndExactScaling) {
  const int64_t n = 1 << 20;
  Tensor x = dev(uniform({n}, 1, 0.5f, 1.5f));  // no zeros, so y == 0 means dropped
  std::vector<float> xv = x.to_vector();
  for (double p : {0.1, 0.3, 0.45, 0.5, 0.9}) {
    Generator gen(123);
    std::vector<float> y = ops::dropout(x, p, true, gen).to_vector();
    const float scale = 1.f / static_cast<float>(1.0 - p);
    int64_t kept = 0, wrong = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (y[i] == 0.f) continue;
      ++kept;
      wrong += y[i] != xv[i] * scale;
    }
    const double frac = static_cast<double>(kept) / n, sigma = std::sqrt(p * (1 - p) / n);
    std::printf("[dropout] p=%.2f kept %.5f (expected %.5f, |diff| = %.1f sigma)\n", p, frac, 1 - p,
                std::fabs(frac - (1 - p)) / sigma);
    EXPECT_NEAR(frac, 1 - p, 6 * sigma) << "p=" << p;
    EXPECT_EQ(wrong, 0) << "kept values not bitwise x * (1/(1-p)) for p=" << p;
  }
}

// Element i of x's storage (memory order) is kept iff counter_uniform(seed, i) >= p,
// seed = the generator's next draw; the backward regenerates the same mask.
TEST_P(DropoutOp, MaskIsTheCounterBasedOneOverMemoryOrder) {
  const Shape s{4, 8, 6, 5};
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
    for (double p : {0.2, 0.5}) {
      const std::string what = std::string(f == MemoryFormat::ChannelsLast ? "NHWC" : "NCHW") + " p=" +
                               std::to_string(p);
      const Tensor x0 = randn(s, 82).contiguous(f);  // host, in format f
      const uint64_t seed = Generator(7).next();
      const float scale = 1.f / static_cast<float>(1.0 - p);
      const float* xs = x0.data<float>();
      std::vector<float> want_mem(x0.numel());
      for (int64_t i = 0; i < x0.numel(); ++i) want_mem[i] = counter_uniform(seed, i) >= p ? xs[i] * scale : 0.f;
      Tensor x = dparam(x0);
      Generator gen(7);
      Tensor y = ops::dropout(x, p, true, gen);
      EXPECT_TRUE(y.is_contiguous(f)) << what << ": output not in the input's format";
      // Compared in memory order, through y's own layout.
      const Tensor yh = host(y);
      EXPECT_EQ(std::vector<float>(yh.data<float>(), yh.data<float>() + yh.numel()), want_mem) << what;
      const Tensor g = uniform(s, 83, 0.5f, 1.5f).contiguous(f);
      y.backward(dev(g));
      const Tensor dx = host(x.grad().contiguous(f));
      const float* gs = g.data<float>();
      int64_t wrong = 0;
      for (int64_t i = 0; i < x0.numel(); ++i)
        wrong += dx.data<float>()[i] != (counter_uniform(seed, i) >= p ? gs[i] * scale : 0.f);
      EXPECT_EQ(wrong, 0) << what << ": dx != g * mask";
    }
}

TEST_P(DropoutOp, SameSeedSameMask) {
  Tensor x = dev(randn({3, 5, 7, 2}, 2));
  Generator a(42), b(42), c(43);
  Tensor ya = ops::dropout(x, 0.5, true, a), yb = ops::dropout(x, 0.5, true, b);
  expect_bitwise_equal("dropout same seed", ya, yb);
  EXPECT_NE(ya.to_vector(), ops::dropout(x, 0.5, true, c).to_vector());
  EXPECT_NE(ya.to_vector(), ops::dropout(x, 0.5, true, a).to_vector());  // the generator moved on
}

TEST_P(DropoutOp, IdentityAndEdgeProbabilities) {
  Tensor x = dparam(randn({4, 6}, 3));
  Generator gen(1);
  EXPECT_EQ(ops::dropout(x, 0.5, false, gen).impl(), x.impl());  // eval: the same tensor
  EXPECT_EQ(ops::dropout(x, 0.0, true, gen).impl(), x.impl());
  Tensor z = ops::dropout(x, 1.0, true, gen);
  for (float v : z.to_vector()) EXPECT_EQ(v, 0.f);
  z.backward(dev(Tensor::ones({4, 6})));
  for (float v : x.grad().to_vector()) EXPECT_EQ(v, 0.f);
  for (double p : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()})
    EXPECT_THROW(ops::dropout(x, p, true, gen), Error) << p;
}

TEST_P(DropoutOp, GradcheckWithFixedMask) {
  for (const Shape& s : {Shape{1, 3, 7, 5}, Shape{3, 4, 5}}) {
    Tensor x = param(randn(s, 4));
    gradcheck("dropout p=0.3 " + shape_str(s), [](auto& in) {
      Generator gen(7);  // the same mask on every evaluation
      return ops::dropout(in[0], 0.3, true, gen);
    }, {x});
  }
}

TEST_P(DropoutOp, BackwardIsTheMask) {
  Tensor x = dparam(uniform({1000}, 5, 0.5f, 1.5f));
  Generator gen(9);
  Tensor y = ops::dropout(x, 0.25, true, gen);
  y.backward(dev(Tensor::ones({1000})));
  std::vector<float> yv = y.to_vector(), g = x.grad().to_vector();
  const float scale = 1.f / 0.75f;
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_EQ(g[i], yv[i] == 0.f ? 0.f : scale) << i;
}

TEST_P(DropoutOp, Layer) {
  Generator gen(11), ref(11);
  Dropout d(0.2, gen);
  d.to(device());
  EXPECT_EQ(d.type_name() + "(" + d.extra_repr() + ")", "Dropout(p=0.2, inplace=False)");
  EXPECT_EQ(Dropout().extra_repr(), "p=0.5, inplace=False");
  EXPECT_EQ(Dropout(1.0).extra_repr(), "p=1.0, inplace=False");
  EXPECT_THROW(Dropout(2.0), Error);
  Tensor x = dev(randn({2, 8}, 6));
  expect_bitwise_equal("Dropout layer, training", d(x), ops::dropout(x, 0.2, true, ref));
  d.eval();
  EXPECT_EQ(d(x).impl(), x.impl());
}
