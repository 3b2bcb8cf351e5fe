// Batch Normalization, per device (device_test.h): finite-difference gradients (training
// and eval statistics, 1d and 2d, affine on/off, frozen affine), PyTorch parity over 4
// training steps plus an eval step (tests/parity/ref_batch_norm.py), eval-mode
// invariants (running statistics untouched, each image independent of its batch),
// sums under cancellation against float64, the first cumulative step, errors; the CPU
// allocator's steady state (CPU only); the layer's names and printout (host).
#include "device_test.h"
#include "framework/backends/cpu/allocator.h"
#include "framework/ops/batch_norm.h"
#include "layers/batch_norm.h"

using namespace nf;
using namespace nf::test;

namespace {

ops::BatchNormState random_state(int64_t C, uint64_t seed, Device d = Device::cpu()) {
  return {uniform({C}, seed, -0.5f, 0.5f).to(d), uniform({C}, seed + 1, 0.5f, 2.f).to(d),
          Tensor::zeros({}, DType::I64, d)};
}

// Gradients of ops::batch_norm w.r.t. x, and weight/bias when `affine` ("frozen":
// weight/bias given but not learning, so only dx is computed).
void check_grads(Device d, const std::string& what, const Shape& shape, Affine affine, bool use_batch_stats) {
  const int64_t C = shape[1];
  Tensor x = param(randn(shape, 7, 1.5f));
  const AffineParams a = affine_params(C, affine, 8);
  ops::BatchNormState s = random_state(C, 10, d);
  gradcheck(d, what, [&](const std::vector<Tensor>& in) {
    return ops::batch_norm(in[0], in[1], in[2], s, use_batch_stats, 0.1, 1e-5);
  }, {x, a.weight, a.bias});
}

// Image i of a batch, as a standalone [1, ...] host tensor.
Tensor image(const Tensor& t, int64_t i) {
  std::vector<float> v = t.to_vector();
  const int64_t per = t.numel() / t.size(0);
  Shape s = t.shape();
  s[0] = 1;
  return Tensor::from_vector(std::vector<float>(v.begin() + i * per, v.begin() + (i + 1) * per), s);
}

std::shared_ptr<BatchNorm> make_bn(bool two_d, int64_t C, BatchNormOptions o) {
  if (two_d) return std::make_shared<BatchNorm2d>(C, o);
  return std::make_shared<BatchNorm1d>(C, o);
}

// Mirrors CASES in tests/parity/ref_batch_norm.py.
void parity(Device d, const std::string& name, bool two_d, int64_t C, BatchNormOptions o) {
  const double rtol = 1e-4, atol = 1e-5;
  io::TensorDict ref = load_ref("batch_norm_" + name);
  auto bn = make_bn(two_d, C, o);
  bn->to(d);
  if (o.affine) {
    bn->weight().copy_(ref.at("weight"));
    bn->bias().copy_(ref.at("bias"));
  }
  auto step = [&](const std::string& k) {
    Tensor x = to_device(d, param(ref.at("x" + k)));
    bn->zero_grad();
    Tensor y = (*bn)(x);
    y.backward(to_device(d, ref.at("gy" + k)));
    expect_close(name + " y" + k, y, ref.at("y" + k), rtol, atol);
    expect_close(name + " dx" + k, x.grad(), ref.at("gx" + k), rtol, atol);
    if (o.affine) {
      expect_close(name + " dweight" + k, bn->weight().grad(), ref.at("gw" + k), rtol, atol);
      expect_close(name + " dbias" + k, bn->bias().grad(), ref.at("gb" + k), rtol, atol);
    }
  };
  bn->train();
  for (int k = 0; k < 4; ++k) step(std::to_string(k));
  if (o.track_running_stats) {
    expect_close(name + " running_mean", bn->running_mean(), ref.at("running_mean"), rtol, atol);
    expect_close(name + " running_var", bn->running_var(), ref.at("running_var"), rtol, atol);
    EXPECT_EQ(bn->num_batches_tracked().to_int_vector(), ref.at("num_batches_tracked").to_int_vector());
  } else {
    EXPECT_TRUE(bn->named_buffers().empty());
  }
  bn->eval();
  step("e");
}

BatchNormOptions opts(std::optional<double> momentum, bool affine = true, bool track = true, double eps = 1e-5) {
  BatchNormOptions o;
  o.momentum = momentum;
  o.affine = affine;
  o.track_running_stats = track;
  o.eps = eps;
  return o;
}

}  // namespace

NF_DEVICE_TEST_SUITE(BatchNormGradcheck);
NF_DEVICE_TEST_SUITE(BatchNormParity);
NF_DEVICE_TEST_SUITE(BatchNormEval);
NF_DEVICE_TEST_SUITE(BatchNormTrain);
NF_DEVICE_TEST_SUITE(BatchNormErrors);

TEST_P(BatchNormGradcheck, TrainingStatistics) {
  for (Affine a : {Affine::Learn, Affine::None, Affine::Frozen}) {
    const std::string tag = affine_tag(a);
    check_grads(device(), "train 2d [3,4,5,3] " + tag, {3, 4, 5, 3}, a, true);
    check_grads(device(), "train 2d [1,3,5,3] " + tag, {1, 3, 5, 3}, a, true);
    check_grads(device(), "train 1d [3,4] " + tag, {3, 4}, a, true);
    check_grads(device(), "train 1d [3,4,5] " + tag, {3, 4, 5}, a, true);
  }
}

TEST_P(BatchNormGradcheck, EvalStatistics) {
  for (Affine a : {Affine::Learn, Affine::None, Affine::Frozen}) {
    const std::string tag = affine_tag(a);
    check_grads(device(), "eval 2d [3,4,5,3] " + tag, {3, 4, 5, 3}, a, false);
    check_grads(device(), "eval 2d [1,3,5,3] " + tag, {1, 3, 5, 3}, a, false);
    check_grads(device(), "eval 1d [3,4] " + tag, {3, 4}, a, false);
    check_grads(device(), "eval 1d [1,4,5] " + tag, {1, 4, 5}, a, false);
  }
}

TEST_P(BatchNormParity, Bn2dMomentum01) { parity(device(), "bn2d_m01", true, 4, opts(0.1)); }
TEST_P(BatchNormParity, Bn2dMomentum03) { parity(device(), "bn2d_m03", true, 4, opts(0.3)); }
TEST_P(BatchNormParity, Bn2dCumulative) { parity(device(), "bn2d_cum", true, 4, opts(std::nullopt)); }
TEST_P(BatchNormParity, Bn2d16Channels) { parity(device(), "bn2d_16ch", true, 16, opts(0.1)); }
TEST_P(BatchNormParity, Bn2dNoAffineEps) {
  parity(device(), "bn2d_noaffine_eps", true, 3, opts(0.1, false, true, 1e-3));
}
TEST_P(BatchNormParity, Bn2dUntracked) { parity(device(), "bn2d_untracked", true, 4, opts(0.1, true, false)); }
TEST_P(BatchNormParity, Bn1d2dMomentum01) { parity(device(), "bn1d_2d_m01", false, 6, opts(0.1)); }
TEST_P(BatchNormParity, Bn1d2dCumulative) { parity(device(), "bn1d_2d_cum", false, 6, opts(std::nullopt)); }
TEST_P(BatchNormParity, Bn1d3dMomentum03) { parity(device(), "bn1d_3d_m03", false, 6, opts(0.3)); }
TEST_P(BatchNormParity, Bn1d3dCumulativeNoAffine) {
  parity(device(), "bn1d_3d_cum_noaffine", false, 5, opts(std::nullopt, false));
}

TEST_P(BatchNormEval, RunningStatisticsUntouchedByForwardAndBackward) {
  BatchNorm2d bn(4);
  bn.to(device());
  ops::BatchNormState s = random_state(4, 20);
  bn.running_mean().copy_(s.running_mean);
  bn.running_var().copy_(s.running_var);
  bn.num_batches_tracked().fill_(7);
  Tensor mean0 = bn.running_mean().clone(), var0 = bn.running_var().clone(), nbt0 = bn.num_batches_tracked().clone();
  bn.eval();
  Tensor x = dparam(randn({3, 4, 5, 3}, 21));
  bn(x).backward(dev(randn({3, 4, 5, 3}, 22)));
  bn(dev(randn({1, 4, 2, 2}, 23)));
  expect_bitwise_equal("running_mean", bn.running_mean(), mean0);
  expect_bitwise_equal("running_var", bn.running_var(), var0);
  expect_bitwise_equal("num_batches_tracked", bn.num_batches_tracked(), nbt0);
  EXPECT_TRUE(x.grad().defined() && bn.weight().grad().defined() && bn.bias().grad().defined());
}

TEST_P(BatchNormEval, EachImageIndependentOfTheBatch) {
  for (const Shape& shape : {Shape{8, 16, 5, 3}, Shape{8, 16, 8, 8}, Shape{8, 6, 7}, Shape{8, 6}}) {
    const int64_t C = shape[1];
    auto bn = make_bn(shape.size() == 4, C, {});
    bn->to(device());
    ops::BatchNormState s = random_state(C, 30);
    bn->running_mean().copy_(s.running_mean);
    bn->running_var().copy_(s.running_var);
    bn->weight().copy_(uniform({C}, 31, 0.5f, 1.5f));
    bn->bias().copy_(randn({C}, 32));
    bn->eval();
    Tensor x = randn(shape, 33, 2.f);
    Tensor y = (*bn)(dev(x));
    for (int64_t i = 0; i < shape[0]; ++i)
      expect_bitwise_equal("image " + std::to_string(i) + " of " + shape_str(shape), (*bn)(dev(image(x, i))),
                           image(y, i));
  }
}

TEST_P(BatchNormTrain, OneValuePerChannelIsAnError) {
  auto randn = [this](const Shape& s, uint64_t seed) { return dev(test::randn(s, seed)); };
  BatchNorm1d bn1(4);
  bn1.to(device());
  try {
    bn1(randn({1, 4}, 40));
    FAIL() << "no error for one value per channel";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Expected more than 1 value per channel when training, got input size [1, 4]");
  }
  BatchNorm2d bn2(4);
  bn2.to(device());
  EXPECT_THROW(bn2(randn({1, 4, 1, 1}, 41)), Error);
  EXPECT_EQ(bn1.num_batches_tracked().item(), 0);  // nothing updated
  bn1.eval();
  EXPECT_NO_THROW(bn1(randn({1, 4}, 42)));  // running statistics: fine
  BatchNorm1d untracked(4, opts(0.1, true, false));
  untracked.to(device());
  untracked.eval();
  EXPECT_THROW(untracked(randn({1, 4}, 43)), Error);  // always batch statistics
}

TEST_P(BatchNormTrain, FirstCumulativeStepStoresBatchMeanAndUnbiasedVariance) {
  BatchNorm2d bn(3);
  bn.to(device());
  bn.train();
  bn(dev(randn({2, 3, 4, 5}, 50, 3.f)));
  bn.start_recalibration();
  EXPECT_EQ(bn.running_mean().to_vector(), std::vector<float>(3, 0.f));
  EXPECT_EQ(bn.running_var().to_vector(), std::vector<float>(3, 1.f));
  EXPECT_EQ(bn.num_batches_tracked().item(), 0);
  Tensor x = randn({2, 3, 4, 5}, 51, 3.f);
  bn(dev(x));
  std::vector<float> v = x.to_vector(), mean(3), var(3);
  for (int64_t c = 0; c < 3; ++c) {
    double s = 0, s2 = 0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 20; ++i) s += v[(n * 3 + c) * 20 + i];
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 20; ++i) s2 += std::pow(v[(n * 3 + c) * 20 + i] - s / 40, 2);
    mean[c] = static_cast<float>(s / 40);
    var[c] = static_cast<float>(s2 / 39);
  }
  expect_close("running_mean after reset + 1 step", bn.running_mean(), Tensor::from_vector(mean, {3}), 1e-5);
  expect_close("running_var after reset + 1 step", bn.running_var(), Tensor::from_vector(var, {3}), 1e-5);
  EXPECT_EQ(bn.num_batches_tracked().item(), 1);
  bn.end_recalibration();
  EXPECT_EQ(bn.options().momentum, std::optional<double>(0.1));
}

// Per-channel sums in double, as PyTorch's CPU kernel: inputs far from zero mean
// (x = 30 + noise) and gradients whose sum cancels (sum(dy) ~1e-5 of sum|dy|) give
// what a float64 evaluation of the same formulas gives. Summed in float (oneDNN 2.6),
// dbias was off by ~1e-4 relative here.
TEST_P(BatchNormTrain, SumsUnderCancellationMatchFloat64) {
  const int64_t N = 16, C = 8, L = 16 * 16;
  const double n = N * L, eps = 1e-5;
  std::vector<float> xv = randn({N, C, 16, 16}, 80).to_vector(), gv = randn({N, C, 16, 16}, 81).to_vector();
  for (float& e : xv) e += 30.f;
  Tensor x = dparam(Tensor::from_vector(xv, {N, C, 16, 16}));
  Tensor w = dparam(uniform({C}, 82, 0.5f, 1.5f)), b = dparam(randn({C}, 83));
  std::vector<float> wv = w.to_vector(), bv = b.to_vector();
  std::vector<float> yr(xv.size()), dxr(xv.size()), dwr(C), dbr(C);
  for (int64_t c = 0; c < C; ++c) {
    auto each = [&](auto f) {
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < L; ++j) f((i * C + c) * L + j);
    };
    double gsum = 0, sum = 0, var = 0, sum_dy = 0, sum_dy_xmu = 0;
    each([&](int64_t k) { gsum += gv[k]; });
    each([&](int64_t k) { gv[k] = static_cast<float>(gv[k] - gsum / n + 1e-5); });  // sum(dy) = n * 1e-5 + rounding
    each([&](int64_t k) { sum += xv[k]; });
    const double mean = sum / n;
    each([&](int64_t k) { var += (xv[k] - mean) * (xv[k] - mean); });
    const double invstd = 1 / std::sqrt(var / n + eps);
    each([&](int64_t k) {
      sum_dy += gv[k];
      sum_dy_xmu += gv[k] * (xv[k] - mean);
    });
    each([&](int64_t k) {
      yr[k] = static_cast<float>((xv[k] - mean) * invstd * wv[c] + bv[c]);
      dxr[k] = static_cast<float>((gv[k] - sum_dy / n - (xv[k] - mean) * sum_dy_xmu * invstd * invstd / n) * invstd *
                                  wv[c]);
    });
    dwr[c] = static_cast<float>(sum_dy_xmu * invstd);
    dbr[c] = static_cast<float>(sum_dy);
  }
  ops::BatchNormState s = random_state(C, 84, device());
  Tensor y = ops::batch_norm(x, w, b, s, true, 0.1, eps);
  y.backward(dev(Tensor::from_vector(gv, y.shape())));
  expect_close("y (x = 30 + noise)", y, Tensor::from_vector(yr, y.shape()), 1e-5, 1e-5);
  expect_close("dx (cancelling dy)", x.grad(), Tensor::from_vector(dxr, x.shape()), 1e-5, 1e-6);
  expect_close("dweight (cancelling dy)", w.grad(), Tensor::from_vector(dwr, {C}), 1e-5);
  expect_close("dbias (cancelling dy)", b.grad(), Tensor::from_vector(dbr, {C}), 1e-5, 0);
}

// A warmed-up CPU training step takes every large buffer it needs (the channels-last
// copy of x, y, dx, the gradient conversions) from the caching allocator again: the
// pool neither grows (a block of a size not seen before) nor shrinks (a block the op
// keeps alive between steps). 32 channels x 16x16 x 8 images = 256 KiB per tensor,
// above the allocator's 64 KiB pooling threshold.
TEST(BatchNormCpuAllocator, SteadyStateReusesPooledMemory) {
  BatchNorm2d bn(32);
  const Tensor x0 = randn({8, 32, 16, 16}, 60), g = randn({8, 32, 16, 16}, 61);
  auto step = [&] {
    Tensor x = param(x0.clone());
    bn(x).backward(g);
    EXPECT_TRUE(x.grad().defined());
  };
  step();
  step();
  const size_t pooled = cpu_cached_bytes();
  EXPECT_GT(pooled, 0u);
  for (int i = 0; i < 3; ++i) {
    step();
    EXPECT_EQ(cpu_cached_bytes(), pooled) << "step " << i;
  }
}

TEST(BatchNormLayer, NamesAndPrintout) {
  BatchNorm2d bn(16);
  std::vector<std::string> params, buffers;
  for (auto& [n, t] : bn.named_parameters()) params.push_back(n);
  for (auto& [n, t] : bn.named_buffers()) buffers.push_back(n);
  EXPECT_EQ(params, (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(buffers, (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.weight().to_vector(), std::vector<float>(16, 1.f));
  EXPECT_EQ(bn.bias().to_vector(), std::vector<float>(16, 0.f));
  EXPECT_EQ(bn.num_batches_tracked().dtype(), DType::I64);
  EXPECT_TRUE(bn.num_batches_tracked().shape().empty());
  EXPECT_EQ(bn.repr(), "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  BatchNorm1d plain(8, opts(std::nullopt, false, false, 1e-3));
  EXPECT_TRUE(plain.named_parameters().empty());
  EXPECT_TRUE(plain.named_buffers().empty());
  EXPECT_FALSE(plain.weight().defined() || plain.running_mean().defined());
  EXPECT_EQ(plain.repr(), "BatchNorm1d(8, eps=0.001, momentum=None, affine=False, track_running_stats=False)");
  EXPECT_EQ(BatchNorm1d(3, opts(0.3, true, true, 2.5e-7)).extra_repr(),
            "3, eps=2.5e-07, momentum=0.3, affine=True, track_running_stats=True");
}

TEST_P(BatchNormErrors, WrongRankOrChannelsIsAnError) {
  auto randn = [this](const Shape& s, uint64_t seed) { return dev(test::randn(s, seed)); };
  BatchNorm2d bn2(4);
  BatchNorm1d bn1(4);
  bn2.to(device());
  bn1.to(device());
  EXPECT_THROW(bn2(randn({3, 4, 5}, 70)), Error);
  EXPECT_THROW(bn1(randn({3, 4, 5, 5}, 71)), Error);
  EXPECT_THROW(bn1(randn({4}, 72)), Error);
  try {
    bn2(randn({2, 3, 5, 5}, 73));
    FAIL() << "no error for a channel mismatch";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "BatchNorm2d(4): input has 3 channels (shape [2, 3, 5, 5]), expected 4");
  }
}
