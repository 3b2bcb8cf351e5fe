// Autograd engine and elementwise ops, per device (device_test.h): gradient
// accumulation, graph freeing, NoGradGuard, finite-difference checks of add / relu /
// mul_scalar, and their exact values and gradients (against loops on the host) for
// NCHW and channels-last inputs (output in the input's format) and 1-, 2-, 3-d inputs.
#include "device_test.h"
#include "framework/ops/eltwise.h"

using namespace nf;
using namespace nf::test;

NF_DEVICE_TEST_SUITE(Autograd);
NF_DEVICE_TEST_SUITE(Eltwise);

TEST_P(Autograd, DiamondAccumulatesAndLeafAccumulatesAcrossCalls) {
  Tensor x = dparam(Tensor::from_vector(std::vector<float>{1, -2, 3}, {3}));
  Tensor y = ops::add(ops::mul_scalar(x, 2.f), ops::mul_scalar(x, 3.f));  // 5x
  y.backward(dev(Tensor::ones({3})));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{5, 5, 5}));
  Tensor z = ops::mul_scalar(x, 2.f);
  z.backward(dev(Tensor::ones({3})));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{7, 7, 7}));  // accumulated
  EXPECT_EQ(x.grad().device(), device());
}

TEST_P(Autograd, GraphIsFreedAfterBackward) {
  Tensor x = dparam(Tensor::ones({4}));
  Tensor y = ops::relu(ops::mul_scalar(x, 2.f));
  std::weak_ptr<Storage> intermediate = y.grad_fn()->inputs[0].storage();  // held only by the graph
  y.backward(dev(Tensor::ones({4})));
  EXPECT_TRUE(intermediate.expired());
  EXPECT_THROW(y.backward(dev(Tensor::ones({4}))), Error);  // second backward: graph gone, clear error
}

TEST_P(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = dparam(Tensor::ones({2}));
  {
    NoGradGuard g;
    Tensor y = ops::relu(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(ops::relu(x).requires_grad());
}

TEST_P(Autograd, NonScalarBackwardNeedsGradient) {
  Tensor x = dparam(Tensor::ones({2}));
  EXPECT_THROW(ops::relu(x).backward(), Error);
}

TEST_P(Eltwise, Gradcheck) {
  Tensor a = param(uniform({3, 5, 2}, 1, 0.1f, 1.f));
  Tensor b = param(randn({3, 5, 2}, 2));
  gradcheck("add", [](auto& in) { return ops::add(in[0], in[1]); }, {a, b});
  gradcheck("mul_scalar", [](auto& in) { return ops::mul_scalar(in[0], -1.5f); }, {b});
  // relu away from the kink at 0
  Tensor c = param(uniform({2, 3, 4, 5}, 3, 0.05f, 1.f));
  std::vector<float> v = c.to_vector();
  for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  Tensor d = param(Tensor::from_vector(v, c.shape()));
  gradcheck("relu", [](auto& in) { return ops::relu(in[0]); }, {d});
}

// y and dx (under a random upstream gradient) of relu, add and mul_scalar against the
// same float arithmetic on the host, bitwise; the output keeps the input's format.
TEST_P(Eltwise, ValuesAndGradientsAreExact) {
  struct Input {
    Shape s;
    MemoryFormat f;
  };
  const Input inputs[] = {{{3, 5, 7, 6}, MemoryFormat::Contiguous}, {{3, 5, 7, 6}, MemoryFormat::ChannelsLast},
                          {{1001}, MemoryFormat::Contiguous},        {{3, 5}, MemoryFormat::Contiguous},
                          {{3, 5, 4}, MemoryFormat::Contiguous},     {{3, 5, 4}, MemoryFormat::ChannelsLast}};
  for (const Input& in : inputs) {
    const std::string tag = shape_str(in.s) + (in.f == MemoryFormat::ChannelsLast ? " NHWC" : "");
    SCOPED_TRACE(tag);
    const Tensor a0 = randn(in.s, 1), b0 = randn(in.s, 2), g0 = randn(in.s, 3);
    const std::vector<float> av = a0.to_vector(), bv = b0.to_vector(), gv = g0.to_vector();
    Tensor a = dparam(a0.contiguous(in.f)), b = dparam(b0.contiguous(in.f));
    const Tensor g = dev(g0.contiguous(in.f));
    const size_t n = av.size();
    std::vector<float> relu_y(n), relu_dx(n), add_y(n), mul_y(n), mul_dx(n);
    for (size_t i = 0; i < n; ++i) {
      relu_y[i] = av[i] > 0.f ? av[i] : 0.f;
      relu_dx[i] = av[i] > 0.f ? gv[i] : 0.f;
      add_y[i] = av[i] + bv[i];
      mul_y[i] = av[i] * -1.7f;
      mul_dx[i] = gv[i] * -1.7f;
    }
    Tensor y = ops::relu(a);
    EXPECT_TRUE(y.is_contiguous(in.f)) << "relu output not in the input's format";
    EXPECT_EQ(y.to_vector(), relu_y) << "relu";
    y.backward(g);
    EXPECT_EQ(a.grad().to_vector(), relu_dx) << "relu dx";
    a.set_grad(Tensor());
    y = ops::add(a, b);
    EXPECT_TRUE(y.is_contiguous(in.f)) << "add output not in the input's format";
    EXPECT_EQ(y.to_vector(), add_y) << "add";
    y.backward(g);
    EXPECT_EQ(a.grad().to_vector(), gv) << "add da";
    EXPECT_EQ(b.grad().to_vector(), gv) << "add db";
    a.set_grad(Tensor());
    y = ops::mul_scalar(a, -1.7f);
    EXPECT_TRUE(y.is_contiguous(in.f)) << "mul_scalar output not in the input's format";
    EXPECT_EQ(y.to_vector(), mul_y) << "mul_scalar";
    y.backward(g);
    EXPECT_EQ(a.grad().to_vector(), mul_dx) << "mul_scalar dx";
  }
}
