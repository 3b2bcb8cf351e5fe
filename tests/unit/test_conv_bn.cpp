// conv_bn (layers/conv_bn.h) and ops::conv2d_inference, per device (device_test.h): in
// evaluation without autograd the BN is folded into the convolution and the residual add
// and ReLU run as oneDNN post-ops (CUDA: one epilogue pass); the result must equal conv ->
// batch_norm(eval) -> add -> relu computed with the separate ops (within 2e-5 relative:
// folding rounds the weights once more), for {residual + relu, relu only, neither}, with
// and without a conv bias, stride 2 and a 1x1 projection. Training mode, or eval with
// autograd on, takes the unfolded path and gives bitwise the separate ops' result.
// Forward hooks still see both modules. conv2d_inference's post-ops with NCHW and
// channels-last inputs.
#include "device_test.h"
#include "framework/autograd/autograd.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/conv.h"
#include "framework/ops/eltwise.h"
#include "layers/conv_bn.h"

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

const Case kCases[] = {Case{4, 6, 3, 1, 1, false, true, true},    // block end
                       Case{4, 6, 3, 2, 1, false, false, true},   // block start
                       Case{4, 6, 1, 2, 0, false, false, false},  // projection
                       Case{3, 5, 3, 1, 1, true, true, false}};

// Case c on device d: a conv + BN pair (randomize(seed)), the input x [3, in, 9, 7]
// (seed + 10) and, when c.residual, a residual of the output's shape (seed + 20).
struct ConvBnPair {
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
  Tensor x, res;
};
ConvBnPair conv_bn_pair(Device d, const Case& c, uint64_t seed) {
  ConvBnPair s{std::make_shared<Conv2d>(c.in, c.out, c.k,
                                   Conv2dOptions{.stride = c.stride, .padding = c.pad, .bias = c.conv_bias}),
          std::make_shared<BatchNorm2d>(c.out), Tensor(), Tensor()};
  randomize(*s.conv, *s.bn, seed);
  s.conv->to(d);
  s.bn->to(d);
  s.x = to_device(d, randn({3, c.in, 9, 7}, seed + 10));
  const int64_t oh = (9 + 2 * c.pad - c.k) / c.stride + 1, ow = (7 + 2 * c.pad - c.k) / c.stride + 1;
  if (c.residual) s.res = to_device(d, randn({3, c.out, oh, ow}, seed + 20));
  return s;
}

std::string case_name(const Case& c) {
  return "k" + std::to_string(c.k) + "s" + std::to_string(c.stride) + (c.conv_bias ? "_bias" : "") +
         (c.residual ? "_res" : "") + (c.relu ? "_relu" : "");
}

}  // namespace

NF_DEVICE_TEST_SUITE(ConvBnFold);
NF_DEVICE_TEST_SUITE(ConvInference);

TEST_P(ConvBnFold, EvalFoldMatchesSeparateOps) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(case_name(c));
    const ConvBnPair s = conv_bn_pair(device(), c, 11);
    s.conv->eval();
    s.bn->eval();
    NoGradGuard ng;
    int hooks = 0;
    Tensor folded;
    {
      ForwardHookGuard hook([&](const Module&, const Tensor&, const Tensor&) { ++hooks; });
      folded = conv_bn(*s.conv, s.bn.get(), s.x, s.res, c.relu);
    }
    EXPECT_EQ(hooks, 2);
    // The CPU's convolutions write channels-last; cuDNN's keep the input's format.
    EXPECT_EQ(folded.memory_format(), on_cuda() ? MemoryFormat::Contiguous : MemoryFormat::ChannelsLast);
    expect_close("folded", folded, separate(*s.conv, *s.bn, s.x, s.res, c.relu), 2e-5, 2e-6);
  }
}

TEST_P(ConvBnFold, TrainingAndAutogradTakeTheSeparatePath) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(case_name(c));
    const ConvBnPair s = conv_bn_pair(device(), c, 12);
    for (bool training : {true, false}) {
      s.conv->train(training);
      s.bn->train(training);
      BatchNorm2d bn_ref(c.out);  // same state, so the running-stat updates are equal too
      bn_ref.to(device());
      bn_ref.load_state_dict(s.bn->state_dict());
      bn_ref.train(training);
      Tensor got = conv_bn(*s.conv, s.bn.get(), s.x, s.res, c.relu);  // autograd on: conv weight requires grad
      expect_bitwise_equal(training ? "train" : "eval with autograd", got,
                           separate(*s.conv, bn_ref, s.x, s.res, c.relu));
      EXPECT_TRUE(got.requires_grad());
      expect_bitwise_equal("running_mean", s.bn->running_mean(), bn_ref.running_mean());
    }
  }
}

TEST_P(ConvInference, PostOpsMatchSeparateOps) {
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    SCOPED_TRACE(f == MemoryFormat::ChannelsLast ? "NHWC input" : "NCHW input");
    const Tensor x = dev(randn({2, 3, 8, 8}, 41).contiguous(f)), w = dev(randn({4, 3, 3, 3}, 42, 0.3f));
    const Tensor b = dev(randn({4}, 43));
    const Tensor res = dev(randn({2, 4, 8, 8}, 44).contiguous());  // NCHW residual is accepted too
    const ops::Conv2dParams p{1, 1, 1, 1, 1, 1, 1};
    NoGradGuard ng;
    const Tensor ref = ops::relu(ops::add(ops::conv2d(x, w, b, p), res));
    expect_close("conv+sum+relu", ops::conv2d_inference(x, w, b, p, res, true), ref, 1e-6, 1e-6);
    expect_bitwise_equal("plain", ops::conv2d_inference(x, w, b, p, Tensor(), false), ops::conv2d(x, w, b, p));
  }
}

TEST_P(ConvInference, RefusesInputsThatNeedGrad) {
  Tensor w = dparam(randn({4, 3, 3, 3}, 45));
  EXPECT_THROW(ops::conv2d_inference(dev(randn({1, 3, 5, 5}, 46)), w, Tensor(), {}, Tensor(), false), Error);
}
