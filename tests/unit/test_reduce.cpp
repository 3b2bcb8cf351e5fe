// sum_except_dim1 (framework/ops/reduce.h: [N, C, ...] -> [C], the bias gradient of conv2d
// and linear), per device (device_test.h): against per-channel sums in double on the host
// for [3, 5, 7, 6] in NCHW and channels-last, [37, 5] and [64, 3, 33, 33] (69,696 terms a
// channel), and [1, 4, 1, 1] (nothing to sum); no graph recorded; a 1-d input is an error.
// Float summation in any order is exact to a few 1e-7 of the sum of |terms|: the check is
// |ours - exact| <= 1e-6 * sum|x_c| + 1e-6 per channel.
#include "device_test.h"
#include "framework/ops/reduce.h"

using namespace nf;
using namespace nf::test;

NF_DEVICE_TEST_SUITE(SumExceptDim1);

TEST_P(SumExceptDim1, MatchesDoubleSumsOnTheHost) {
  struct Case {
    Shape s;
    MemoryFormat f;
  };
  const Case cases[] = {{{3, 5, 7, 6}, MemoryFormat::Contiguous},
                        {{3, 5, 7, 6}, MemoryFormat::ChannelsLast},
                        {{37, 5}, MemoryFormat::Contiguous},
                        {{64, 3, 33, 33}, MemoryFormat::Contiguous},
                        {{1, 4, 1, 1}, MemoryFormat::Contiguous}};
  for (const Case& c : cases) {
    const std::string what = shape_str(c.s) + (c.f == MemoryFormat::ChannelsLast ? " NHWC" : "");
    const Tensor x0 = randn(c.s, 50);
    const std::vector<float> v = x0.to_vector();
    const int64_t N = c.s[0], C = c.s[1], rest = x0.numel() / (N * C);
    std::vector<double> sum(C, 0.0), l1(C, 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < C; ++k)
        for (int64_t i = 0; i < rest; ++i) {
          const double e = v[(n * C + k) * rest + i];
          sum[k] += e;
          l1[k] += std::fabs(e);
        }
    const Tensor x = dparam(x0.contiguous(c.f));
    const Tensor y = ops::sum_except_dim1(x);
    EXPECT_FALSE(y.requires_grad()) << what << ": records no graph";
    EXPECT_EQ(y.device(), device());
    ASSERT_EQ(y.shape(), (Shape{C})) << what;
    const std::vector<float> got = y.to_vector();
    double worst = 0;
    for (int64_t k = 0; k < C; ++k) {
      const double err = std::fabs(got[k] - sum[k]), tol = 1e-6 * l1[k] + 1e-6;
      worst = std::max(worst, err / tol);
      EXPECT_LE(err, tol) << what << " channel " << k << ": " << got[k] << " vs " << sum[k];
    }
    std::printf("[sum_except_dim1] %-20s err/tol = %.3f\n", what.c_str(), worst);
  }
  EXPECT_THROW(ops::sum_except_dim1(dev(randn({7}, 51))), Error);
}
