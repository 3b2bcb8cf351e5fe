// CUDA against CPU for the smaller ops, forward and input gradients, NCHW and NHWC
// inputs, odd shapes: relu, add, mul_scalar, max/avg/adaptive-avg pooling (uniform 1x1
// and a non-uniform 5x5 -> 3x3), linear, cross_entropy (label smoothing 0 and 0.1),
// shortcut_pad, sum_except_dim1, reshape/flatten, topk_correct (with ties); and the
// CUDA dropout on its own terms (same seed same mask, kept fraction, exact scaling,
// backward = g * mask) and the same mask as the CPU's for one seed.
#include <cmath>

#include "framework/ops/dropout.h"
#include "framework/ops/eltwise.h"
#include "framework/ops/linear.h"
#include "framework/ops/loss.h"
#include "framework/ops/metrics.h"
#include "framework/ops/pool.h"
#include "framework/ops/reduce.h"
#include "framework/ops/shape.h"
#include "framework/ops/shortcut.h"
#include "gpu_test_util.h"

using namespace nf;
using namespace nf::gpu_test;

namespace {
const MemoryFormat kFormats[] = {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast};
const Shape kImage = {3, 5, 7, 6};
}  // namespace

TEST(GpuEltwise, ReluAddMulScalarMatchCpu) {
  NF_REQUIRE_GPU();
  for (MemoryFormat f : kFormats) {
    const std::string tag = std::string(" ") + fmt_name(f);
    check_op("relu" + tag, {leaf(image(kImage, 1, f))},
             [](const std::vector<Tensor>& in) { return ops::relu(in[0]); }, {f});
    check_op("add" + tag, {leaf(image(kImage, 2, f)), leaf(image(kImage, 3, f))},
             [](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); }, {f});
    check_op("mul_scalar" + tag, {leaf(image(kImage, 4, f))},
             [](const std::vector<Tensor>& in) { return ops::mul_scalar(in[0], -1.7f); }, {f});
  }
  for (const Shape& s : {Shape{1001}, Shape{3, 5}, Shape{3, 5, 4}}) {
    const std::string tag = " " + shape_str(s);
    check_op("relu" + tag, {leaf(randn(s, 5))}, [](const std::vector<Tensor>& in) { return ops::relu(in[0]); });
    check_op("add" + tag, {leaf(randn(s, 6)), leaf(randn(s, 7))},
             [](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); });
    check_op("mul_scalar" + tag, {leaf(randn(s, 8))},
             [](const std::vector<Tensor>& in) { return ops::mul_scalar(in[0], 0.3f); });
  }
}

TEST(GpuPool, MaxAvgAdaptiveMatchCpu) {
  NF_REQUIRE_GPU();
  struct Win {
    int64_t k, s, p;
  };
  for (MemoryFormat f : kFormats) {
    const std::string tag = std::string(" ") + fmt_name(f);
    for (Win w : {Win{3, 2, 1}, Win{2, 2, 0}, Win{3, 1, 1}, Win{3, 3, 0}}) {
      const std::string win = " k" + std::to_string(w.k) + " s" + std::to_string(w.s) + " p" + std::to_string(w.p);
      check_op("max_pool2d" + win + tag, {leaf(image(kImage, 10, f))},
               [w](const std::vector<Tensor>& in) { return ops::max_pool2d(in[0], w.k, w.s, w.p); }, {f});
      check_op("avg_pool2d" + win + tag, {leaf(image(kImage, 11, f))},
               [w](const std::vector<Tensor>& in) { return ops::avg_pool2d(in[0], w.k, w.s, w.p); }, {f});
    }
    check_op("adaptive_avg_pool2d 7x6->1x1" + tag, {leaf(image(kImage, 12, f))},
             [](const std::vector<Tensor>& in) { return ops::adaptive_avg_pool2d(in[0], 1, 1); }, {f});
    check_op("adaptive_avg_pool2d 5x5->3x3" + tag, {leaf(image({3, 5, 5, 5}, 13, f))},
             [](const std::vector<Tensor>& in) { return ops::adaptive_avg_pool2d(in[0], 3, 3); }, {f});
    check_op("adaptive_avg_pool2d 7x6->3x4" + tag, {leaf(image(kImage, 14, f))},
             [](const std::vector<Tensor>& in) { return ops::adaptive_avg_pool2d(in[0], 3, 4); }, {f});
  }
}

TEST(GpuLinear, ForwardAndGradientsMatchCpu) {
  NF_REQUIRE_GPU();
  struct Case {
    int64_t n, in, out;
    bool bias;
  };
  for (Case c : {Case{3, 5, 7, true}, Case{3, 5, 7, false}, Case{33, 70, 10, true}, Case{1, 64, 10, true}}) {
    const std::string what = "linear " + std::to_string(c.n) + "x" + std::to_string(c.in) + "->" +
                             std::to_string(c.out) + (c.bias ? " bias" : "");
    check_op(what, {leaf(randn({c.n, c.in}, 20)), leaf(randn({c.out, c.in}, 21, 0.2f)),
                    c.bias ? leaf(randn({c.out}, 22)) : Tensor()},
             [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); });
  }
}

TEST(GpuLoss, CrossEntropyMatchesCpu) {
  NF_REQUIRE_GPU();
  for (double ls : {0.0, 0.1})
    for (int64_t n : {3, 37}) {
      const std::string what = "cross_entropy n=" + std::to_string(n) + " ls=" + std::to_string(ls).substr(0, 3);
      check_op(what, {leaf(randn({n, 10}, 30, 3.f)), labels(n, 10, 31)},
               [ls](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], in[1], ls); });
    }
}

TEST(GpuShortcut, PadMatchesCpu) {
  NF_REQUIRE_GPU();
  struct Case {
    int64_t out, stride;
  };
  for (MemoryFormat f : kFormats)
    for (Case c : {Case{9, 2}, Case{8, 1}, Case{10, 2}, Case{5, 2}}) {
      const std::string what = "shortcut_pad 5->" + std::to_string(c.out) + " s" + std::to_string(c.stride) + " " +
                               fmt_name(f);
      check_op(what, {leaf(image(kImage, 40, f))},
               [c](const std::vector<Tensor>& in) { return ops::shortcut_pad(in[0], c.out, c.stride); }, {f});
    }
}

TEST(GpuReduce, SumExceptDim1MatchesCpu) {
  NF_REQUIRE_GPU();
  for (MemoryFormat f : kFormats)
    check_op(std::string("sum_except_dim1 ") + fmt_name(f), {image(kImage, 50, f)},
             [](const std::vector<Tensor>& in) { return ops::sum_except_dim1(in[0]); });
  check_op("sum_except_dim1 [37, 5]", {randn({37, 5}, 51)},
           [](const std::vector<Tensor>& in) { return ops::sum_except_dim1(in[0]); });
  check_op("sum_except_dim1 [64, 3, 33, 33]", {randn({64, 3, 33, 33}, 52)},
           [](const std::vector<Tensor>& in) { return ops::sum_except_dim1(in[0]); });
}

TEST(GpuShape, ReshapeAndFlattenMatchCpu) {
  NF_REQUIRE_GPU();
  for (MemoryFormat f : kFormats) {
    const std::string tag = std::string(" ") + fmt_name(f);
    check_op("flatten" + tag, {leaf(image(kImage, 60, f))},
             [](const std::vector<Tensor>& in) { return ops::flatten(in[0]); });
    check_op("flatten(2)" + tag, {leaf(image(kImage, 61, f))},
             [](const std::vector<Tensor>& in) { return ops::flatten(in[0], 2); });
    check_op("reshape [-1, 6]" + tag, {leaf(image(kImage, 62, f))},
             [](const std::vector<Tensor>& in) { return ops::reshape(in[0], {-1, 6}); });
  }
}

TEST(GpuMetrics, TopkCorrectMatchesCpu) {
  NF_REQUIRE_GPU();
  // Coarse integer logits make ties common: the tie rule (lower index first) must agree.
  std::vector<float> coarse(257 * 10);
  std::mt19937_64 rng(70);
  for (float& v : coarse) v = static_cast<float>(rng() % 4);
  const Tensor tied = Tensor::from_vector(coarse, {257, 10});
  for (const Tensor& logits : {randn({257, 10}, 71), tied}) {
    const Tensor y = labels(257, 10, 72);
    for (int64_t k : {1, 3, 5, 10, 12}) {
      const int64_t c = ops::topk_correct(logits, y, k);
      const int64_t g = ops::topk_correct(logits.to(cuda()), y.to(cuda()), k);
      EXPECT_EQ(g, c) << "topk_correct k=" << k << (logits.impl() == tied.impl() ? " (ties)" : "");
    }
  }
}

TEST(GpuDropout, SameSeedSameMaskFractionScalingAndBackward) {
  NF_REQUIRE_GPU();
  const int64_t n = 1 << 20;
  const Tensor xc = uniform({n}, 80, 0.5f, 1.5f);  // no zeros: y == 0 means dropped
  const std::vector<float> xv = xc.to_vector();
  const Tensor gc = randn({n}, 81);
  const std::vector<float> gv = gc.to_vector();
  for (double p : {0.1, 0.5, 0.8}) {
    Tensor x = xc.to(cuda());
    x.set_requires_grad(true);
    Generator a(123), b(123);
    Tensor ya = ops::dropout(x, p, true, a), yb = ops::dropout(x.detach(), p, true, b);
    ASSERT_TRUE(ya.device().is_cuda());
    expect_bitwise("dropout same seed p=" + std::to_string(p), ya, yb);
    ya.backward(gc.to(cuda()));
    ASSERT_TRUE(x.grad().defined());
    const std::vector<float> y = ya.to_vector(), dx = x.grad().to_vector();
    const float scale = 1.f / static_cast<float>(1.0 - p);
    int64_t kept = 0, wrong_value = 0, wrong_grad = 0;
    for (int64_t i = 0; i < n; ++i) {
      const bool k = y[i] != 0.f;
      kept += k;
      wrong_value += k && y[i] != xv[i] * scale;
      wrong_grad += dx[i] != (k ? gv[i] * scale : 0.f);
    }
    const double frac = double(kept) / n;
    std::printf("[dropout] cuda p=%.1f kept %.5f (expected %.5f)\n", p, frac, 1 - p);
    EXPECT_LE(std::fabs(frac - (1 - p)), 0.02) << "kept fraction for p=" << p;
    EXPECT_EQ(wrong_value, 0) << "kept values not bitwise x * (1.f / float(1 - p)) for p=" << p;
    EXPECT_EQ(wrong_grad, 0) << "dx != g * mask for p=" << p;
  }
  Generator c(124), d(123);
  const Tensor x = xc.to(cuda());
  EXPECT_NE(ops::dropout(x, 0.5, true, c).to_vector(), ops::dropout(x, 0.5, true, d).to_vector())
      << "different seeds gave the same mask";
}

// The CPU loop and the CUDA kernel draw the same counter-based mask for one seed and
// layout, so a dropout network's step can be compared across devices.
TEST(GpuDropout, CpuAndCudaDrawTheSameMask) {
  NF_REQUIRE_GPU();
  const Tensor x = randn({4, 8, 6, 5}, 82);
  for (double p : {0.2, 0.5}) {
    Generator a(7), b(7);
    expect_bitwise("dropout cpu vs cuda p=" + std::to_string(p), ops::dropout(x.to(cuda()), p, true, a).to(Device::cpu()),
                   ops::dropout(x, p, true, b));
  }
}
