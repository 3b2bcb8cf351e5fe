// cross_entropy (gradcheck with and without label smoothing, PyTorch parity from
// tests/parity/ref_loss.py, hand values, errors) and topk_correct (exact counts).
#include <cmath>

#include "framework/ops/loss.h"
#include "framework/ops/metrics.h"
#include "test_util.h"

using namespace nf;
using namespace nf::test;

namespace {
Tensor labels(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }
}  // namespace

TEST(Loss, CrossEntropyGradcheck) {
  for (double ls : {0.0, 0.1}) {
    Tensor a = param(randn({3, 5}, 1, 2.f));
    gradcheck("cross_entropy [3,5] ls=" + std::to_string(ls),
              [ls](auto& in) { return ops::cross_entropy(in[0], labels({4, 0, 2}), ls); }, {a});
    Tensor b = param(randn({1, 4}, 2, 2.f));
    gradcheck("cross_entropy [1,4] ls=" + std::to_string(ls),
              [ls](auto& in) { return ops::cross_entropy(in[0], labels({3}), ls); }, {b});
  }
}

TEST(Loss, CrossEntropyParityWithPyTorch) {
  for (const char* name : {"loss_ce_small_ls0", "loss_ce_small_ls01", "loss_ce_one_ls01", "loss_ce_big_ls0",
                           "loss_ce_big_ls01"}) {
    io::TensorDict ref = load_ref(name);
    Tensor logits = param(ref.at("logits"));
    Tensor loss = ops::cross_entropy(logits, ref.at("targets"), ref.at("ls").item());
    EXPECT_EQ(loss.dim(), 0);
    loss.backward();
    expect_close(std::string(name) + " loss", loss, ref.at("loss"), 1e-5);
    expect_close(std::string(name) + " dlogits", logits.grad(), ref.at("grad"), 1e-5, 1e-8);
  }
}

TEST(Loss, CrossEntropyHandValues) {
  const double tol = 1e-6;  // float32 rounding of the loss
  // Uniform logits: every -log p = log K, with or without smoothing.
  EXPECT_NEAR(ops::cross_entropy(Tensor::zeros({2, 4}), labels({1, 3}), 0.2).item(), std::log(4.0), tol);
  // Two classes, logits (0, log 3): p = (1/4, 3/4).
  Tensor l = Tensor::from_vector(std::vector<float>{0.f, std::log(3.f)}, {1, 2});
  EXPECT_NEAR(ops::cross_entropy(l, labels({0})).item(), std::log(4.0), tol);
  const double ls = 0.1, expect = (1 - ls) * std::log(4.0) + ls * 0.5 * (std::log(4.0) + std::log(4.0 / 3.0));
  EXPECT_NEAR(ops::cross_entropy(l, labels({0}), ls).item(), expect, tol);
  // Gradient: p - smoothed one-hot.
  Tensor lp = param(l);
  ops::cross_entropy(lp, labels({0}), ls).backward();
  std::vector<float> g = lp.grad().to_vector();
  EXPECT_NEAR(g[0], 0.25 - (1 - ls) - ls / 2, tol);
  EXPECT_NEAR(g[1], 0.75 - ls / 2, tol);
}

TEST(Loss, CrossEntropyErrors) {
  Tensor l = randn({3, 10}, 3);
  try {
    ops::cross_entropy(l, labels({1, 2, 10}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target 10 at index 2 is out of range [0, 10)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ops::cross_entropy(l, labels({-1, 0, 0})), Error);
  EXPECT_THROW(ops::cross_entropy(l, labels({1, 2})), Error);             // N mismatch
  EXPECT_THROW(ops::cross_entropy(randn({3, 2, 5}, 4), labels({0, 0, 0})), Error);  // not [N, K]
  EXPECT_THROW(ops::cross_entropy(l, Tensor::zeros({3})), Error);         // F32 targets
  EXPECT_THROW(ops::cross_entropy(l, labels({0, 0, 0}), 1.5), Error);     // smoothing outside [0, 1]
}

TEST(Metrics, TopkCorrectHandMade) {
  Tensor logits = Tensor::from_vector(std::vector<float>{0.1f, 0.7f, 0.2f, 0.0f,    // order 1, 2, 0, 3
                                                         0.5f, 0.1f, 0.9f, 0.3f,    // order 2, 0, 3, 1
                                                         -1.f, -2.f, -3.f, -0.5f},  // order 3, 0, 1, 2
                                      {3, 4});
  Tensor t = labels({1, 0, 2});  // ranks 0, 1, 3
  EXPECT_EQ(ops::topk_correct(logits, t, 1), 1);
  EXPECT_EQ(ops::topk_correct(logits, t, 2), 2);
  EXPECT_EQ(ops::topk_correct(logits, t, 3), 2);
  EXPECT_EQ(ops::topk_correct(logits, t, 4), 3);
  EXPECT_EQ(ops::topk_correct(logits, t, 100), 3);  // k > K counts as K
  EXPECT_EQ(ops::topk_correct(logits, labels({3, 1, 3}), 1), 1);
}

TEST(Metrics, TopkTiesRankLowerIndexFirst) {
  Tensor logits = Tensor::from_vector(std::vector<float>{1, 1, 1, 0}, {1, 4});
  EXPECT_EQ(ops::topk_correct(logits, labels({0}), 1), 1);
  EXPECT_EQ(ops::topk_correct(logits, labels({1}), 1), 0);
  EXPECT_EQ(ops::topk_correct(logits, labels({1}), 2), 1);
  EXPECT_EQ(ops::topk_correct(logits, labels({2}), 2), 0);
  EXPECT_EQ(ops::topk_correct(logits, labels({3}), 3), 0);
}

TEST(Metrics, TopkErrors) {
  Tensor l = randn({2, 3}, 5);
  EXPECT_THROW(ops::topk_correct(l, labels({0, 3}), 1), Error);
  EXPECT_THROW(ops::topk_correct(l, labels({0}), 1), Error);
  EXPECT_THROW(ops::topk_correct(l, labels({0, 1}), 0), Error);
}
