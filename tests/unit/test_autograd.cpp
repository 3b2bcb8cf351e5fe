// Autograd engine and elementwise ops: gradient accumulation, graph freeing,
// NoGradGuard, and finite-difference checks of add / relu / mul_scalar.
#include "framework/ops/eltwise.h"
#include "test_util.h"

using namespace nf;
using namespace nf::test;

TEST(Autograd, DiamondAccumulatesAndLeafAccumulatesAcrossCalls) {
  Tensor x = param(Tensor::from_vector(std::vector<float>{1, -2, 3}, {3}));
  Tensor y = ops::add(ops::mul_scalar(x, 2.f), ops::mul_scalar(x, 3.f));  // 5x
  y.backward(Tensor::ones({3}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{5, 5, 5}));
  Tensor z = ops::mul_scalar(x, 2.f);
  z.backward(Tensor::ones({3}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{7, 7, 7}));  // accumulated
}

TEST(Autograd, GraphIsFreedAfterBackward) {
  Tensor x = param(Tensor::ones({4}));
  Tensor y = ops::relu(ops::mul_scalar(x, 2.f));
  std::weak_ptr<Storage> intermediate = y.grad_fn()->inputs[0].storage();  // held only by the graph
  y.backward(Tensor::ones({4}));
  EXPECT_TRUE(intermediate.expired());
  EXPECT_THROW(y.backward(Tensor::ones({4})), Error);  // second backward: graph gone, clear error
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = param(Tensor::ones({2}));
  {
    NoGradGuard g;
    Tensor y = ops::relu(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(ops::relu(x).requires_grad());
}

TEST(Autograd, NonScalarBackwardNeedsGradient) {
  Tensor x = param(Tensor::ones({2}));
  EXPECT_THROW(ops::relu(x).backward(), Error);
}

TEST(Eltwise, Gradcheck) {
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
