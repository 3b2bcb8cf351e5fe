// Option-A ResNet shortcut: exact forward values and a finite-difference gradient check.
#include "framework/ops/shortcut.h"
#include "test_util.h"

using namespace nf;
using namespace nf::test;

TEST(Shortcut, SubsamplesAndPadsChannels) {
  std::vector<float> v(2 * 3 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  Tensor y = ops::shortcut_pad(Tensor::from_vector(v, {1, 2, 3, 3}), 4, 2);
  ASSERT_EQ(shape_str(y.shape()), "[1, 4, 2, 2]");
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0, 0, 0, 0, 0, 2, 6, 8, 9, 11, 15, 17, 0, 0, 0, 0}));
}

TEST(Shortcut, Gradcheck) {
  Tensor x = param(randn({3, 2, 5, 4}, 7));
  gradcheck("shortcut_pad s2", [](auto& in) { return ops::shortcut_pad(in[0], 6, 2); }, {x});
  gradcheck("shortcut_pad s1", [](auto& in) { return ops::shortcut_pad(in[0], 4, 1); }, {x});
}
