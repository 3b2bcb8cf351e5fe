// cross_entropy (gradcheck with and without label smoothing, PyTorch parity from
// tests/parity/ref_loss.py, hand values, errors) and topk_correct (exact counts, by hand
// and against a host count with many ties), per device (device_test.h).
#include <cmath>
#include <random>

#include "device_test.h"

#include "framework/ops/loss.h"
#include "framework/ops/metrics.h"

using namespace nf;
using namespace nf::test;

namespace {
Tensor labels(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }
}  // namespace

NF_DEVICE_TEST_SUITE(Loss);
NF_DEVICE_TEST_SUITE(Metrics);

TEST_P(Loss, CrossEntropyGradcheck) {
  for (double ls : {0.0, 0.1}) {
    Tensor a = param(randn({3, 5}, 1, 2.f));
    gradcheck("cross_entropy [3,5] ls=" + std::to_string(ls),
              [ls, t = dev(labels({4, 0, 2}))](auto& in) { return ops::cross_entropy(in[0], t, ls); }, {a});
    Tensor b = param(randn({1, 4}, 2, 2.f));
    gradcheck("cross_entropy [1,4] ls=" + std::to_string(ls),
              [ls, t = dev(labels({3}))](auto& in) { return ops::cross_entropy(in[0], t, ls); }, {b});
  }
}

TEST_P(Loss, CrossEntropyParityWithPyTorch) {
  for (const char* name : {"loss_ce_small_ls0", "loss_ce_small_ls01", "loss_ce_one_ls01", "loss_ce_big_ls0",
                           "loss_ce_big_ls01"}) {
    io::TensorDict ref = load_ref(name);
    Tensor logits = dparam(ref.at("logits"));
    Tensor loss = ops::cross_entropy(logits, dev(ref.at("targets")), ref.at("ls").item());
    EXPECT_EQ(loss.dim(), 0);
    loss.backward();
    expect_close(std::string(name) + " loss", loss, ref.at("loss"), 1e-5);
    expect_close(std::string(name) + " dlogits", logits.grad(), ref.at("grad"), 1e-5, 1e-8);
  }
}

TEST_P(Loss, CrossEntropyHandValues) {
  const double tol = 1e-6;  // float32 rounding of the loss
  // Uniform logits: every -log p = log K, with or without smoothing.
  EXPECT_NEAR(ops::cross_entropy(dev(Tensor::zeros({2, 4})), dev(labels({1, 3})), 0.2).item(), std::log(4.0), tol);
  // Two classes, logits (0, log 3): p = (1/4, 3/4).
  Tensor l = Tensor::from_vector(std::vector<float>{0.f, std::log(3.f)}, {1, 2});
  EXPECT_NEAR(ops::cross_entropy(dev(l), dev(labels({0}))).item(), std::log(4.0), tol);
  const double ls = 0.1, expect = (1 - ls) * std::log(4.0) + ls * 0.5 * (std::log(4.0) + std::log(4.0 / 3.0));
  EXPECT_NEAR(ops::cross_entropy(dev(l), dev(labels({0})), ls).item(), expect, tol);
  // Gradient: p - smoothed one-hot.
  Tensor lp = dparam(l);
  ops::cross_entropy(lp, dev(labels({0})), ls).backward();
  std::vector<float> g = lp.grad().to_vector();
  EXPECT_NEAR(g[0], 0.25 - (1 - ls) - ls / 2, tol);
  EXPECT_NEAR(g[1], 0.75 - ls / 2, tol);
}

// Shapes, dtypes and the smoothing are checked before the device runs; a target out of
// range is an error on the CPU and a NaN loss on CUDA (checking it there would cost a
// device-to-host copy every step; backends/cuda/loss.cu).
TEST_P(Loss, CrossEntropyErrors) {
  Tensor l = dev(randn({3, 10}, 3));
  if (on_cuda()) {
    EXPECT_TRUE(std::isnan(ops::cross_entropy(l, dev(labels({1, 2, 10}))).item()));
    EXPECT_TRUE(std::isnan(ops::cross_entropy(l, dev(labels({-1, 0, 0}))).item()));
  } else {
    try {
      ops::cross_entropy(l, labels({1, 2, 10}));
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("target 10 at index 2 is out of range [0, 10)"), std::string::npos)
          << e.what();
    }
    EXPECT_THROW(ops::cross_entropy(l, labels({-1, 0, 0})), Error);
  }
  EXPECT_THROW(ops::cross_entropy(l, dev(labels({1, 2}))), Error);             // N mismatch
  EXPECT_THROW(ops::cross_entropy(dev(randn({3, 2, 5}, 4)), dev(labels({0, 0, 0}))), Error);  // not [N, K]
  EXPECT_THROW(ops::cross_entropy(l, dev(Tensor::zeros({3}))), Error);         // F32 targets
  EXPECT_THROW(ops::cross_entropy(l, dev(labels({0, 0, 0})), 1.5), Error);     // smoothing outside [0, 1]
}

TEST_P(Metrics, TopkCorrectHandMade) {
  Tensor logits = dev(Tensor::from_vector(std::vector<float>{0.1f, 0.7f, 0.2f, 0.0f,    // order 1, 2, 0, 3
                                                             0.5f, 0.1f, 0.9f, 0.3f,    // order 2, 0, 3, 1
                                                             -1.f, -2.f, -3.f, -0.5f},  // order 3, 0, 1, 2
                                          {3, 4}));
  Tensor t = dev(labels({1, 0, 2}));  // ranks 0, 1, 3
  EXPECT_EQ(ops::topk_correct(logits, t, 1), 1);
  EXPECT_EQ(ops::topk_correct(logits, t, 2), 2);
  EXPECT_EQ(ops::topk_correct(logits, t, 3), 2);
  EXPECT_EQ(ops::topk_correct(logits, t, 4), 3);
  EXPECT_EQ(ops::topk_correct(logits, t, 100), 3);  // k > K counts as K
  EXPECT_EQ(ops::topk_correct(logits, dev(labels({3, 1, 3})), 1), 1);
}

TEST_P(Metrics, TopkTiesRankLowerIndexFirst) {
  Tensor logits = dev(Tensor::from_vector(std::vector<float>{1, 1, 1, 0}, {1, 4}));
  EXPECT_EQ(ops::topk_correct(logits, dev(labels({0})), 1), 1);
  EXPECT_EQ(ops::topk_correct(logits, dev(labels({1})), 1), 0);
  EXPECT_EQ(ops::topk_correct(logits, dev(labels({1})), 2), 1);
  EXPECT_EQ(ops::topk_correct(logits, dev(labels({2})), 2), 0);
  EXPECT_EQ(ops::topk_correct(logits, dev(labels({3})), 3), 0);
}

// 257 samples of 10 classes, random logits and coarse integer ones (ties everywhere):
// the count equals a host count where the target's rank is the number of logits above
// it plus the number equal to it at a lower index.
TEST_P(Metrics, TopkCorrectMatchesHostCountWithTies) {
  const int64_t N = 257, K = 10;
  std::vector<float> coarse(N * K);
  std::mt19937_64 rng(70);
  for (float& v : coarse) v = static_cast<float>(rng() % 4);
  std::vector<int64_t> target(N);
  for (int64_t& c : target) c = static_cast<int64_t>(rng() % K);
  for (const std::vector<float>& lv : {randn({N, K}, 71).to_vector(), coarse}) {
    const bool ties = lv == coarse;
    const Tensor logits = dev(Tensor::from_vector(lv, {N, K})), t = dev(labels(target));
    for (int64_t k : {1, 3, 5, 10, 12}) {
      int64_t want = 0;
      for (int64_t n = 0; n < N; ++n) {
        const float* row = lv.data() + n * K;
        const float v = row[target[n]];
        int64_t rank = 0;
        for (int64_t j = 0; j < K; ++j) rank += row[j] > v || (row[j] == v && j < target[n]);
        want += rank < k;
      }
      EXPECT_EQ(ops::topk_correct(logits, t, k), want) << "k=" << k << (ties ? " (ties)" : "");
    }
  }
}

TEST_P(Metrics, TopkErrors) {
  Tensor l = dev(randn({2, 3}, 5));
  if (on_cuda())  // no host check of the targets there: one out of range counts as not correct (metrics.cu)
    EXPECT_EQ(ops::topk_correct(l, dev(labels({0, 3})), 3), 1);
  else
    EXPECT_THROW(ops::topk_correct(l, labels({0, 3}), 1), Error);
  EXPECT_THROW(ops::topk_correct(l, dev(labels({0})), 1), Error);
  EXPECT_THROW(ops::topk_correct(l, dev(labels({0, 1})), 0), Error);
}
