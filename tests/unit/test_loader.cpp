// data/loader: batches [B, C, H, W] F32 + [B] I64 are bitwise identical whatever the
// worker count and timing, every sample comes once per epoch, epochs differ, a
// restart reproduces an epoch, drop_last, abandoned epochs, worker errors, a real
// CIFAR-10-sample epoch, and the data-parallel shards (DistributedSampler's samples
// with padding for training, whole batches for evaluation).
#include <chrono>
#include <cmath>
#include <numeric>
#include <set>
#include <thread>

#include "data/cifar.h"
#include "data_test_util.h"
#include "test_util.h"

using namespace nf;
using namespace nf::data;
using namespace nf::test;

namespace {

// n samples of 1x4x4; pixel k of sample i = ((i * 16 + k) % 251) / 255, label i.
std::shared_ptr<InMemoryDataset> numbered(int64_t n) {
  std::vector<uint8_t> px(n * 16);
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = i;
    for (int k = 0; k < 16; ++k) px[i * 16 + k] = uint8_t((i * 16 + k) % 251);
  }
  return std::make_shared<InMemoryDataset>(Shape{1, 4, 4}, std::move(px), std::move(labels), n,
                                           std::vector<std::string>{});
}

// Wraps a dataset: sleeps a sample-dependent time (to scramble worker timing) and
// throws for one sample.
class Jittery : public Dataset {
 public:
  Jittery(std::shared_ptr<Dataset> d, int64_t bad = -1) : d_(std::move(d)), bad_(bad) {}
  int64_t size() const override { return d_->size(); }
  Shape sample_shape() const override { return d_->sample_shape(); }
  int64_t num_classes() const override { return d_->num_classes(); }
  int64_t label(int64_t i) const override { return d_->label(i); }
  void get(int64_t i, float* out, int64_t* label) const override {
    std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 5 * 300));
    NF_CHECK(i != bad_, "bad sample " + std::to_string(i));
    d_->get(i, out, label);
  }

 private:
  std::shared_ptr<Dataset> d_;
  int64_t bad_;
};

Compose augment() {
  Compose t;
  t.add<RandomCrop>(RandomCropOptions{4, 1}).add<HorizontalFlip>(HorizontalFlipOptions{0.5}).add<Cutout>(CutoutOptions{2});
  return t;
}

LoaderOptions options(int workers, int64_t batch = 8, bool shuffle = true) {
  LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.workers = workers;
  o.prefetch = 2;
  o.seed = 42;
  o.transforms = augment();
  return o;
}

}  // namespace

TEST(Loader, SameBatchesWhateverTheWorkerCount) {
  auto data = std::make_shared<Jittery>(numbered(37));
  DataLoader l0(data, options(0)), l1(data, options(1)), l3(data, options(3));
  for (int64_t e : {0, 1}) {
    const auto a = epoch(l0, e), b = epoch(l1, e), c = epoch(l3, e);
    ASSERT_EQ(a.size(), 5u);
    ASSERT_EQ(b.size(), 5u);
    ASSERT_EQ(c.size(), 5u);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].index, int64_t(i));
      EXPECT_EQ(c[i].index, int64_t(i));
      test::expect_bitwise_equal("images 0 vs 1 worker", a[i].images, b[i].images);
      test::expect_bitwise_equal("images 0 vs 3 workers", a[i].images, c[i].images);
      test::expect_bitwise_equal("labels 0 vs 3 workers", a[i].labels, c[i].labels);
    }
  }
}

TEST(Loader, EveryoneOncePerEpochOrdersDifferAndResumeReproduces) {
  auto data = numbered(37);
  DataLoader l(data, options(2));
  EXPECT_EQ(l.batches_per_epoch(), 5);
  const auto e0 = epoch(l, 0), e1 = epoch(l, 1);
  EXPECT_EQ(e0.back().images.shape(), (Shape{5, 1, 4, 4}));
  EXPECT_EQ(e0.front().labels.dtype(), DType::I64);
  std::vector<int64_t> o0 = labels_of(e0), o1 = labels_of(e1);
  EXPECT_NE(o0, o1);
  std::vector<int64_t> all(37);
  std::iota(all.begin(), all.end(), 0);
  std::sort(o0.begin(), o0.end());
  std::sort(o1.begin(), o1.end());
  EXPECT_EQ(o0, all);
  EXPECT_EQ(o1, all);
  // A fresh loader (a restarted run) reproduces epoch 1, also from its third batch on.
  DataLoader again(data, options(3));
  const auto r1 = epoch(again, 1);
  for (size_t i = 0; i < r1.size(); ++i) test::expect_bitwise_equal("resumed epoch", r1[i].images, e1[i].images);
  again.start_epoch(1, 2);
  Batch b;
  ASSERT_TRUE(again.next(b));
  EXPECT_EQ(b.index, 2);
  test::expect_bitwise_equal("resumed mid-epoch", b.images, e1[2].images);
  // No shuffle: identity order; with no transforms the pixels are the dataset's.
  LoaderOptions plain = options(2, 10, false);
  plain.transforms = Compose();
  DataLoader seq(data, plain);
  const auto s = epoch(seq, 3);
  EXPECT_EQ(labels_of(s), all);
  std::vector<float> px(16);
  int64_t label;
  data->get(12, px.data(), &label);
  const std::vector<float> got = s[1].images.to_vector();
  EXPECT_EQ(std::vector<float>(got.begin() + 32, got.begin() + 48), px);
}

TEST(Loader, DropLastAndAbandonedEpochs) {
  auto data = numbered(37);
  LoaderOptions o = options(2);
  o.drop_last = true;
  DataLoader l(data, o);
  EXPECT_EQ(l.batches_per_epoch(), 4);
  const auto e = epoch(l, 0);
  ASSERT_EQ(e.size(), 4u);
  for (const Batch& b : e) EXPECT_EQ(b.labels.numel(), 8);
  const std::vector<int64_t> seen = labels_of(e);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 32u);
  // Abandon epoch 1 after one batch, then epoch 2 is complete and as a fresh loader's.
  l.start_epoch(1);
  Batch b;
  ASSERT_TRUE(l.next(b));
  const auto e2 = epoch(l, 2);
  DataLoader fresh(data, o);
  const auto f2 = epoch(fresh, 2);
  ASSERT_EQ(e2.size(), 4u);
  for (size_t i = 0; i < e2.size(); ++i) test::expect_bitwise_equal("after abandon", e2[i].images, f2[i].images);
  EXPECT_FALSE(l.next(b));
  // Destroyed mid-epoch with workers busy: must join cleanly.
  auto slow = std::make_shared<Jittery>(data);
  DataLoader busy(slow, options(3, 4));
  busy.start_epoch(0);
  ASSERT_TRUE(busy.next(b));
}

TEST(Loader, WorkerExceptionIsRethrownInNext) {
  auto data = std::make_shared<Jittery>(numbered(37), 13);  // sample 13 is in batch 1 (no shuffle)
  for (int workers : {0, 3}) {
    DataLoader l(data, options(workers, 8, false));
    l.start_epoch(0);
    Batch b;
    ASSERT_TRUE(l.next(b));
    expect_error([&] { l.next(b); }, {"batch 1", "bad sample 13"});
    ASSERT_TRUE(l.next(b));
    EXPECT_EQ(b.index, 2);
  }
  DataLoader l(data, options(1));
  expect_error([&] { Batch b; l.next(b); }, {"before start_epoch"});
  expect_error([&] { DataLoader(data, options(1, 0)); }, {"batch_size"});
  LoaderOptions bad = options(1);
  bad.transforms.add<Normalize>(NormalizeOptions{{0.5f, 0.5f, 0.5f}, {1.f, 1.f, 1.f}});
  expect_error([&] { DataLoader(data, bad); }, {"normalize", "1 channels"});
}

TEST(Loader, CifarSampleBatches) {
  if (!fs::exists(kCifarSample)) GTEST_SKIP() << kCifarSample << " not present";
  LoaderOptions o;
  o.batch_size = 128;
  o.workers = 2;
  o.seed = 1;
  o.transforms.add<RandomCrop>(RandomCropOptions{28, 0}).add<HorizontalFlip>(HorizontalFlipOptions{0.5});
  o.transforms.add<Normalize>(NormalizeOptions{{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}});
  DataLoader l(load_cifar10(kCifarSample, true), o);
  EXPECT_EQ(l.batches_per_epoch(), 16);
  const auto t0 = std::chrono::steady_clock::now();
  const auto e = epoch(l, 0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[loader] CIFAR sample epoch: %zu batches, %.0f img/s with 2 workers\n", e.size(), 2000 / s);
  ASSERT_EQ(e.size(), 16u);
  EXPECT_EQ(e[0].images.shape(), (Shape{128, 3, 28, 28}));
  EXPECT_EQ(e[15].images.shape(), (Shape{80, 3, 28, 28}));
  std::vector<int64_t> counts(10);
  for (int64_t v : labels_of(e)) ++counts.at(v);
  EXPECT_EQ(counts, (std::vector<int64_t>{202, 191, 203, 195, 214, 183, 207, 199, 203, 203}));
  double sum = 0, sq = 0;  // normalized with CIFAR-10's statistics: about mean 0, std 1
  for (const Batch& b : e)
    for (float v : b.images.to_vector()) sum += v, sq += double(v) * v;
  const double n = 2000.0 * 3 * 28 * 28, mean = sum / n, std = std::sqrt(sq / n - mean * mean);
  std::printf("[loader] normalized epoch: mean %.4f std %.4f\n", mean, std);
  EXPECT_LT(std::fabs(mean), 0.1);
  EXPECT_NEAR(std, 1.0, 0.1);
}

namespace {

// Labels (= sample indices) of every batch of the epoch, in order.
std::vector<std::vector<int64_t>> batch_labels(const std::vector<Batch>& batches) {
  std::vector<std::vector<int64_t>> out;
  for (const Batch& b : batches) out.push_back(b.labels.to_int_vector());
  return out;
}

}  // namespace

TEST(LoaderShards, SamplesAsDistributedSamplerWithPaddingAndSameAugmentation) {
  // 37 samples on 3 ranks: 13 each (39 = 37 + 2 padded with the order's first two),
  // rank r takes positions r, r + 3, ...; every rank the same number of batches.
  auto data = numbered(37);
  DataLoader one(data, options(0, 39));
  const auto whole = epoch(one, 1)[0];  // the one-process epoch's order, as one batch (positions 0..36)
  const std::vector<int64_t> order = whole.labels.to_int_vector();
  std::multiset<int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    LoaderOptions o = options(r % 2, 5);  // worker count must not matter
    o.rank = r, o.world = 3;
    DataLoader l(data, o);
    EXPECT_EQ(l.samples_per_epoch(), 13);
    EXPECT_EQ(l.batches_per_epoch(), 3);  // 5 + 5 + 3
    const auto batches = epoch(l, 1);
    int64_t i = 0;
    for (const Batch& b : batches)
      for (int64_t k = 0; k < b.labels.numel(); ++k, ++i) {
        const int64_t pos = r + 3 * i;
        const int64_t label = b.labels.to_int_vector()[k];
        seen.insert(label);
        EXPECT_EQ(label, order[pos % 37]) << "rank " << r << " sample " << i;
        if (pos < 37) {  // the same augmentation as the one-process epoch at that position
          const std::vector<float> a = b.images.narrow_batch(k, 1).contiguous().to_vector();
          const std::vector<float> w = whole.images.narrow_batch(pos, 1).contiguous().to_vector();
          EXPECT_EQ(a, w) << "rank " << r << " position " << pos;
        }
      }
  }
  EXPECT_EQ(seen.size(), 39u);
  for (int64_t s = 0; s < 37; ++s) EXPECT_EQ(seen.count(s), s == order[0] || s == order[1] ? 2u : 1u) << s;
}

TEST(LoaderShards, BatchesDealtRoundRobinAsTheOneProcessEpoch) {
  // 37 samples, batch 8: 5 batches (the last of 5); 2 ranks get batches 0, 2, 4 and 1, 3.
  auto data = numbered(37);
  DataLoader one(data, options(1, 8, false));
  const auto want = batch_labels(epoch(one, 0));
  ASSERT_EQ(want.size(), 5u);
  for (int r = 0; r < 2; ++r) {
    LoaderOptions o = options(0, 8, false);
    o.rank = r, o.world = 2, o.shard = Shard::Batches;
    DataLoader l(data, o);
    const auto got = batch_labels(epoch(l, 0));
    ASSERT_EQ(got.size(), r == 0 ? 3u : 2u);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], want[r + 2 * k]) << "rank " << r << " batch " << k;
  }
  LoaderOptions o = options(0, 8, false);
  o.rank = 5, o.world = 6, o.shard = Shard::Batches;  // more ranks than batches: nothing for rank 5
  DataLoader idle(data, o);
  EXPECT_EQ(idle.batches_per_epoch(), 0);
  o.rank = 6;
  expect_error([&] { DataLoader bad(data, o); }, {"rank 6 of 6"});
}
