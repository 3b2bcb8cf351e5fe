// Option-A ResNet shortcut (ops::shortcut_pad), per device (device_test.h): exact forward
// values by hand, and against a host loop (channels at offset (out - C) / 2, zeros
// around; dx = the upstream gradient at the kept positions) for even and odd channel
// padding, stride 1 and 2, NCHW and channels-last (the output keeps the input's
// format); a finite-difference gradient check.
#include "device_test.h"
#include "framework/ops/shortcut.h"

using namespace nf;
using namespace nf::test;

NF_DEVICE_TEST_SUITE(Shortcut);

TEST_P(Shortcut, SubsamplesAndPadsChannels) {
  std::vector<float> v(2 * 3 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  Tensor y = ops::shortcut_pad(dev(Tensor::from_vector(v, {1, 2, 3, 3})), 4, 2);
  ASSERT_EQ(shape_str(y.shape()), "[1, 4, 2, 2]");
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0, 0, 0, 0, 0, 2, 6, 8, 9, 11, 15, 17, 0, 0, 0, 0}));
}

TEST_P(Shortcut, MatchesHostLoopInBothFormats) {
  const int64_t N = 3, C = 5, H = 7, W = 6;
  const Tensor x0 = randn({N, C, H, W}, 40);
  const std::vector<float> xv = x0.to_vector();
  struct Case {
    int64_t out, stride;
  };
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
    for (Case c : {Case{9, 2}, Case{8, 1}, Case{10, 2}, Case{5, 2}}) {
      const std::string what = "5->" + std::to_string(c.out) + " s" + std::to_string(c.stride) +
                               (f == MemoryFormat::ChannelsLast ? " NHWC" : " NCHW");
      SCOPED_TRACE(what);
      const int64_t OH = (H + c.stride - 1) / c.stride, OW = (W + c.stride - 1) / c.stride, off = (c.out - C) / 2;
      std::vector<float> want(N * c.out * OH * OW, 0.f);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < C; ++k)
          for (int64_t h = 0; h < OH; ++h)
            for (int64_t w = 0; w < OW; ++w)
              want[((n * c.out + k + off) * OH + h) * OW + w] = xv[((n * C + k) * H + h * c.stride) * W + w * c.stride];
      Tensor x = dparam(x0.contiguous(f));
      Tensor y = ops::shortcut_pad(x, c.out, c.stride);
      ASSERT_EQ(y.shape(), (Shape{N, c.out, OH, OW}));
      EXPECT_TRUE(y.is_contiguous(f)) << "output not in the input's format";
      EXPECT_EQ(y.to_vector(), want);
      const Tensor g = randn(y.shape(), 41);
      y.backward(dev(g.contiguous(f)));
      const std::vector<float> gv = g.to_vector();
      std::vector<float> dx(xv.size(), 0.f);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < C; ++k)
          for (int64_t h = 0; h < OH; ++h)
            for (int64_t w = 0; w < OW; ++w)
              dx[((n * C + k) * H + h * c.stride) * W + w * c.stride] = gv[((n * c.out + k + off) * OH + h) * OW + w];
      EXPECT_EQ(x.grad().to_vector(), dx);
    }
}

TEST_P(Shortcut, Gradcheck) {
  Tensor x = param(randn({3, 2, 5, 4}, 7));
  gradcheck("shortcut_pad s2", [](auto& in) { return ops::shortcut_pad(in[0], 6, 2); }, {x});
  gradcheck("shortcut_pad s1", [](auto& in) { return ops::shortcut_pad(in[0], 4, 1); }, {x});
}
