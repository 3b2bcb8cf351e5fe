// reshape / flatten (shapes, views, gradients, errors; channels-last inputs give the
// logical values in order and the gradient back in the input's shape) and the thin
// Flatten / ReLU layers, per device (device_test.h).
#include "device_test.h"
#include "framework/ops/eltwise.h"
#include "framework/ops/shape.h"
#include "layers/activation.h"
#include "layers/flatten.h"

using namespace nf;
using namespace nf::test;

NF_DEVICE_TEST_SUITE(ShapeOp);
NF_DEVICE_TEST_SUITE(ShapeLayers);

TEST_P(ShapeOp, ReshapeIsAViewOfContiguousInput) {
  Tensor x = dev(randn({2, 3, 4}, 1));
  Tensor y = ops::reshape(x, {4, -1});
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_EQ(y.storage(), x.storage());
  EXPECT_EQ(y.to_vector(), x.to_vector());
  EXPECT_THROW(ops::reshape(x, {5, -1}), Error);
  EXPECT_THROW(ops::reshape(x, {-1, -1}), Error);
}

TEST_P(ShapeOp, FlattenShapes) {
  Tensor x = dev(randn({2, 3, 4, 5}, 2));
  EXPECT_EQ(ops::flatten(x).shape(), (Shape{2, 60}));
  EXPECT_EQ(ops::flatten(x, 0).shape(), (Shape{120}));
  EXPECT_EQ(ops::flatten(x, -2).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(ops::flatten(x, 3).shape(), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(ops::flatten(dev(Tensor::scalar(3.0)), 0).shape(), (Shape{1}));
  EXPECT_EQ(ops::flatten(x).storage(), x.storage());
  EXPECT_THROW(ops::flatten(x, 4), Error);
  EXPECT_THROW(ops::flatten(x, -5), Error);
}

TEST_P(ShapeOp, Gradcheck) {
  Tensor x = param(randn({3, 2, 5, 7}, 3));
  gradcheck("flatten", [](auto& in) { return ops::flatten(in[0]); }, {x});
  gradcheck("reshape", [](auto& in) { return ops::reshape(in[0], {7, -1, 5}); }, {x});
  // Through another op on both sides, so the gradient's shape round trip is exercised.
  Tensor y = param(randn({1, 3, 7, 5}, 4));
  gradcheck("3 * flatten(2x)",
            [](auto& in) { return ops::mul_scalar(ops::flatten(ops::mul_scalar(in[0], 2.f), 2), 3.f); }, {y});
}

// A channels-last input: the result holds the logical (NCHW-order) values, and the
// gradient comes back with the input's shape and exactly the upstream values.
TEST_P(ShapeOp, FlattenAndReshapeOfChannelsLastInput) {
  const Tensor x0 = randn({3, 5, 7, 6}, 60);
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> f;
  };
  const Case cases[] = {{"flatten", [](const Tensor& t) { return ops::flatten(t); }},
                        {"flatten(2)", [](const Tensor& t) { return ops::flatten(t, 2); }},
                        {"reshape [-1, 6]", [](const Tensor& t) { return ops::reshape(t, {-1, 6}); }}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = dparam(x0.contiguous(MemoryFormat::ChannelsLast));
    Tensor y = c.f(x);
    EXPECT_EQ(y.to_vector(), x0.to_vector());
    const Tensor g = randn(y.shape(), 61);
    y.backward(dev(g));
    ASSERT_TRUE(x.grad().defined());
    EXPECT_EQ(x.grad().shape(), x0.shape());
    EXPECT_EQ(x.grad().to_vector(), g.to_vector());
  }
}

TEST_P(ShapeLayers, FlattenAndReLU) {
  Flatten f;
  EXPECT_EQ(f.type_name() + "(" + f.extra_repr() + ")", "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(f(dev(randn({3, 4, 2, 2}, 5))).shape(), (Shape{3, 16}));
  ReLU r;
  EXPECT_EQ(r.type_name(), "ReLU");
  EXPECT_EQ(r.extra_repr(), "");
  // Against max(x, 0) and its mask written out here, not against the op the layer calls.
  Tensor x = dparam(randn({2, 5}, 6));
  Tensor g = randn({2, 5}, 7);
  r(x).backward(dev(g));
  const std::vector<float> xv = x.to_vector(), yv = r(x).to_vector(), gv = g.to_vector(), dx = x.grad().to_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    EXPECT_EQ(yv[i], xv[i] > 0.f ? xv[i] : 0.f) << "y[" << i << "], x = " << xv[i];
    EXPECT_EQ(dx[i], xv[i] > 0.f ? gv[i] : 0.f) << "dx[" << i << "], x = " << xv[i];
  }
}
