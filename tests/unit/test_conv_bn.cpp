// conv_bn (layers/conv_bn.h) and ops::conv2d_inference: in evaluation without autograd
// the BN is folded into the convolution and the residual add and ReLU run as oneDNN
// post-ops; the result must equal conv -> batch_norm(eval) -> add -> relu computed with
// the separate ops (within 2e-5 relative: folding rounds the weights once more), for
// {residual + relu, relu only, neither}, with and without a conv bias, stride 2 and a
// 1x1 projection. Training mode, or eval with autograd on, takes the unfolded path and
// gives bitwise the separate ops' result. Forward hooks still see both modules.
#include "framework/autograd/autograd.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/conv.h"
#include "framework/ops/eltwise.h"
#include "layers/conv_bn.h"
#include "test_util.h"

using namespace nf;
using namespace nf::test;

namespace {

struct Case {
  int64_t in, out, k, stride, pad;
  bool conv_bias, residual, relu;
};

// A conv + BN pair with random weights and non-trivial running statistics.
void randomize(Conv2d& conv, BatchNorm2d& bn, uint64_t seed) {
  NoGradGuard ng;
  conv.weight().copy_(randn(conv.weight().shape(), seed, 0.3f));
  if (conv.bias().defined()) conv.bias().copy_(randn(conv.bias().shape(), seed + 1, 0.3f));
  bn.weight().copy_(uniform({bn.num_features()}, seed + 2, 0.5f, 1.5f));
  bn.bias().copy_(randn({bn.num_features()}, seed + 3, 0.3f));
  bn.running_mean().copy_(randn({bn.num_features()}, seed + 4, 0.5f));
  bn.running_var().copy_(uniform({bn.num_features()}, seed + 5, 0.5f, 2.f));
}

// The reference: separate conv, batch_norm with running statistics, add, relu.
Tensor separate(Conv2d& conv, BatchNorm2d& bn, const Tensor& x, const Tensor& res, bool relu) {
  Tensor y = bn(conv(x));
  if (res.defined()) y = ops::add(y, res);
  return relu ? ops::relu(y) : y;
}

class ConvBnFold : public ::testing::TestWithParam<Case> {};

TEST_P(ConvBnFold, EvalFoldMatchesSeparateOps) {
  const Case c = GetParam();
  Conv2d conv(c.in, c.out, c.k, {.stride = c.stride, .padding = c.pad, .bias = c.conv_bias});
  BatchNorm2d bn(c.out);
  randomize(conv, bn, 11);
  conv.eval();
  bn.eval();
  const Tensor x = randn({3, c.in, 9, 7}, 21);
  const int64_t oh = (9 + 2 * c.pad - c.k) / c.stride + 1, ow = (7 + 2 * c.pad - c.k) / c.stride + 1;
  const Tensor res = c.residual ? randn({3, c.out, oh, ow}, 31) : Tensor();
  NoGradGuard ng;
  int hooks = 0;
  Tensor folded;
  {
    ForwardHookGuard hook([&](const Module&, const Tensor&, const Tensor&) { ++hooks; });
    folded = conv_bn(conv, &bn, x, res, c.relu);
  }
  EXPECT_EQ(hooks, 2);
  EXPECT_EQ(folded.memory_format(), MemoryFormat::ChannelsLast);
  expect_close("folded", folded, separate(conv, bn, x, res, c.relu), 2e-5, 2e-6);
}

TEST_P(ConvBnFold, TrainingAndAutogradTakeTheSeparatePath) {
  const Case c = GetParam();
  Conv2d conv(c.in, c.out, c.k, {.stride = c.stride, .padding = c.pad, .bias = c.conv_bias});
  BatchNorm2d bn(c.out);
  randomize(conv, bn, 12);
  const Tensor x = randn({3, c.in, 9, 7}, 22);
  const int64_t oh = (9 + 2 * c.pad - c.k) / c.stride + 1, ow = (7 + 2 * c.pad - c.k) / c.stride + 1;
  const Tensor res = c.residual ? randn({3, c.out, oh, ow}, 32) : Tensor();
  for (bool training : {true, false}) {
    conv.train(training);
    bn.train(training);
    BatchNorm2d bn_ref(c.out);  // same state, so the running-stat updates are equal too
    bn_ref.load_state_dict(bn.state_dict());
    bn_ref.train(training);
    Tensor got = conv_bn(conv, &bn, x, res, c.relu);  // autograd on: conv weight requires grad
    expect_bitwise_equal(training ? "train" : "eval with autograd", got, separate(conv, bn_ref, x, res, c.relu));
    EXPECT_TRUE(got.requires_grad());
    expect_bitwise_equal("running_mean", bn.running_mean(), bn_ref.running_mean());
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvBnFold,
                         ::testing::Values(Case{4, 6, 3, 1, 1, false, true, true},   // block end
                                           Case{4, 6, 3, 2, 1, false, false, true},  // block start
                                           Case{4, 6, 1, 2, 0, false, false, false}, // projection
                                           Case{3, 5, 3, 1, 1, true, true, false}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           const Case& c = i.param;
                           return "k" + std::to_string(c.k) + "s" + std::to_string(c.stride) +
                                  (c.conv_bias ? "_bias" : "") + (c.residual ? "_res" : "") + (c.relu ? "_relu" : "");
                         });

TEST(ConvInference, PostOpsMatchSeparateOps) {
  const Tensor x = randn({2, 3, 8, 8}, 41), w = randn({4, 3, 3, 3}, 42, 0.3f), b = randn({4}, 43);
  const Tensor res = randn({2, 4, 8, 8}, 44).contiguous();  // NCHW residual is accepted too
  const ops::Conv2dParams p{1, 1, 1, 1, 1, 1, 1};
  NoGradGuard ng;
  const Tensor ref = ops::relu(ops::add(ops::conv2d(x, w, b, p), res));
  expect_close("conv+sum+relu", ops::conv2d_inference(x, w, b, p, res, true), ref, 1e-6, 1e-6);
  expect_bitwise_equal("plain", ops::conv2d_inference(x, w, b, p, Tensor(), false), ops::conv2d(x, w, b, p));
}

TEST(ConvInference, RefusesInputsThatNeedGrad) {
  Tensor w = randn({4, 3, 3, 3}, 45);
  w.set_requires_grad(true);
  EXPECT_THROW(ops::conv2d_inference(randn({1, 3, 5, 5}, 46), w, Tensor(), {}, Tensor(), false), Error);
}

}  // namespace
