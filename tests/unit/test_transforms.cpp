// data/transforms: exact outputs of RandomCrop (zero padding), HorizontalFlip,
// Normalize and Cutout on small hand-made CHW images with fixed generators, the
// number of random draws each makes, and Compose's shape checks.
#include <set>

#include "data/transforms.h"
#include "data_test_util.h"
#include "test_util.h"

using namespace nf;
using namespace nf::data;
using namespace nf::test;

namespace {

std::vector<float> iota_image(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = float(i + 1);
  return v;
}

}  // namespace

TEST(Transforms, RandomCropIsACropOfTheZeroPaddedImage) {
  // 2 channels of 3x4 (values 1..24), padding 1, size 3: padded 5x6, offsets top 0..2, left 0..3.
  const int64_t C = 2, H = 3, W = 4, P = 1, S = 3;
  std::vector<float> padded(C * (H + 2 * P) * (W + 2 * P), 0.f);
  const std::vector<float> img = iota_image(C * H * W);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) padded[(c * (H + 2) + y + 1) * (W + 2) + x + 1] = img[(c * H + y) * W + x];
  RandomCrop crop({S, P});
  std::set<std::pair<int64_t, int64_t>> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Generator g(seed), peek(seed);
    const int64_t top = random_index(peek, H + 2 * P - S + 1), left = random_index(peek, W + 2 * P - S + 1);
    seen.insert({top, left});
    std::vector<float> buf = img;
    Shape shape = {C, H, W};
    crop.apply(buf, shape, g);
    ASSERT_EQ(shape, (Shape{C, S, S}));
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < S; ++y)
        for (int64_t x = 0; x < S; ++x)
          ASSERT_EQ(buf[(c * S + y) * S + x], padded[(c * (H + 2) + top + y) * (W + 2) + left + x])
              << "seed " << seed << " top " << top << " left " << left;
    EXPECT_EQ(g.next(), peek.next()) << "crop draws exactly two numbers";
  }
  EXPECT_EQ(seen.size(), 12u) << "every offset 0..2 x 0..3 is drawn";
  // A hand-written case: 1x3x3 = 1..9, top-left window of the padded image.
  for (uint64_t seed = 0;; ++seed) {
    Generator peek(seed);
    if (random_index(peek, 3) != 0 || random_index(peek, 3) != 0) continue;
    Generator g(seed);
    std::vector<float> buf = iota_image(9);
    Shape shape = {1, 3, 3};
    RandomCrop({3, 1}).apply(buf, shape, g);
    EXPECT_EQ(buf, (std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5}));
    break;
  }
  expect_error([] { RandomCrop({41, 4}).output_shape({3, 32, 32}); }, {"random_crop", "size 41"});
}

TEST(Transforms, HorizontalFlipMirrorsColumnsWithProbabilityP) {
  Generator g(7);
  std::vector<float> buf = iota_image(12);  // 2x2x3
  Shape shape = {2, 2, 3};
  HorizontalFlip({1.0}).apply(buf, shape, g);
  EXPECT_EQ(buf, (std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}));
  HorizontalFlip({0.0}).apply(buf, shape, g);
  EXPECT_EQ(buf, (std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}));
  int flips = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    Generator gen(seed), peek(seed);
    std::vector<float> b = {1, 2};
    Shape s = {1, 1, 2};
    HorizontalFlip({0.5}).apply(b, s, gen);
    const bool flipped = b[0] == 2;
    ASSERT_EQ(flipped, random_unit(peek) < 0.5) << seed;
    flips += flipped;
  }
  std::printf("[flip] %d of 2000 flipped at p=0.5\n", flips);
  EXPECT_NEAR(flips, 1000, 100);
}

TEST(Transforms, NormalizePerChannel) {
  Generator g(0);
  std::vector<float> buf = {0.f, 1.f, 0.25f, 0.75f};  // 2x1x2
  Shape shape = {2, 1, 2};
  Normalize({{0.5f, 0.25f}, {0.5f, 0.25f}}).apply(buf, shape, g);
  EXPECT_EQ(buf, (std::vector<float>{-1.f, 1.f, 0.f, 2.f}));
  expect_error([] { Normalize({{0.5f, 0.5f}, {0.2f, 0.2f}}).output_shape({3, 4, 4}); }, {"normalize", "3 channels"});
  expect_error([] { Normalize({{0.5f}, {0.f}}); }, {"std"});
  expect_error([] { Normalize({{0.5f, 0.5f}, {0.2f}}); }, {"mean and std"});
}

TEST(Transforms, CutoutZeroesOneClippedSquare) {
  auto run = [](uint64_t seed, int64_t size) {
    Generator g(seed);
    std::vector<float> buf(2 * 4 * 5, 1.f);  // 2x4x5 of ones
    Shape shape = {2, 4, 5};
    Cutout({size}).apply(buf, shape, g);
    return buf;
  };
  std::set<std::pair<int64_t, int64_t>> centres;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Generator peek(seed);
    const int64_t cy = random_index(peek, 4), cx = random_index(peek, 5);
    centres.insert({cy, cx});
    const std::vector<float> out = run(seed, 2);
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 5; ++x) {
          const bool hole = y >= cy - 1 && y < cy + 1 && x >= cx - 1 && x < cx + 1;
          ASSERT_EQ(out[(c * 4 + y) * 5 + x], hole ? 0.f : 1.f) << seed << " " << c << " " << y << " " << x;
        }
  }
  EXPECT_EQ(centres.size(), 20u);
  // Hand-written: centre (0, 0) with size 4 clips to rows/cols [0, 2); centre (3, 4) to [1, 4) x [2, 5).
  for (uint64_t seed = 0;; ++seed) {
    Generator peek(seed);
    if (random_index(peek, 4) != 0 || random_index(peek, 5) != 0) continue;
    const std::vector<float> out = run(seed, 4);
    const std::vector<float> plane = {0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 20), plane);
    EXPECT_EQ(std::vector<float>(out.begin() + 20, out.end()), plane);
    break;
  }
  for (uint64_t seed = 0;; ++seed) {
    Generator peek(seed);
    if (random_index(peek, 4) != 3 || random_index(peek, 5) != 4) continue;
    const std::vector<float> out = run(seed, 4);
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 20),
              (std::vector<float>{1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0}));
    break;
  }
}

TEST(Transforms, ComposeChainsShapesAndChecksThem) {
  Compose t;
  t.add<RandomCrop>(RandomCropOptions{3, 0}).add<Normalize>(NormalizeOptions{{0.f}, {2.f}});
  EXPECT_EQ(t.output_shape({1, 4, 4}), (Shape{1, 3, 3}));
  expect_error([&] { t.output_shape({3, 4, 4}); }, {"normalize", "3 channels"});
  Generator g(3);
  std::vector<float> buf(16, 1.f);
  Shape s = {1, 4, 4};
  t.apply(buf, s, g);
  EXPECT_EQ(s, (Shape{1, 3, 3}));
  EXPECT_EQ(buf, std::vector<float>(9, 0.5f));
}
