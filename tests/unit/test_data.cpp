// data/ datasets: CIFAR binary and IDX readers (the real CIFAR-10 sample and
// Fashion-MNIST files, synthetic files for every error case) and image folders
// (tiny PNGs written through OpenCV). Samples are [C, H, W] floats in [0,1].
#include <zlib.h>

#include <set>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data_test_util.h"
#include "test_util.h"

using namespace nf;
using namespace nf::data;
using namespace nf::test;

namespace {

// CIFAR records: label byte(s) then 3072 pixels, every pixel = fill.
std::vector<uint8_t> cifar_records(const std::vector<std::vector<uint8_t>>& labels, uint8_t fill0) {
  std::vector<uint8_t> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out.insert(out.end(), labels[r].begin(), labels[r].end());
    out.insert(out.end(), 3072, uint8_t(fill0 + r));
  }
  return out;
}

const std::string kFashion = "/usr/share/datasets/fashion-mnist";

}  // namespace

// ---------------------------------------------------------------- CIFAR

TEST(Cifar, SampleCountsClassCountsAndFirstRecord) {
  if (!fs::exists(kCifarSample)) GTEST_SKIP() << kCifarSample << " not present";
  auto train = load_cifar10(kCifarSample, true), test = load_cifar10(kCifarSample, false);
  ASSERT_EQ(train->size(), 2000);
  ASSERT_EQ(test->size(), 1000);
  EXPECT_EQ(train->sample_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(train->num_classes(), 10);
  const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                          "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(train->class_names(), names);
  const std::vector<int64_t> want_train = {202, 191, 203, 195, 214, 183, 207, 199, 203, 203};
  const std::vector<int64_t> want_test = {103, 89, 100, 103, 90, 86, 112, 102, 106, 109};
  std::vector<int64_t> got_train(10), got_test(10);
  for (int64_t i = 0; i < 2000; ++i) ++got_train[train->label(i)];
  for (int64_t i = 0; i < 1000; ++i) ++got_test[test->label(i)];
  EXPECT_EQ(got_train, want_train);
  EXPECT_EQ(got_test, want_test);
  // First records: frog (6) / cat (3); pixels are the file's bytes / 255, R plane first.
  auto [px, label] = sample(*train, 0);
  EXPECT_EQ(label, 6);
  EXPECT_EQ(sample(*test, 0).second, 3);
  std::ifstream f(kCifarSample + "/data_batch_1.bin", std::ios::binary);
  std::vector<uint8_t> rec(3073);
  f.read(reinterpret_cast<char*>(rec.data()), 3073);
  EXPECT_EQ(rec[1], 59);
  for (int k = 0; k < 3072; ++k) ASSERT_EQ(px[k], rec[1 + k] / 255.f) << k;
}

TEST(Cifar, AcceptsWhicheverTrainBatchesExistInOrder) {
  TempDir dir;
  write_bytes(dir.path / "data_batch_1.bin", cifar_records({{1}, {2}, {3}}, 10));
  write_bytes(dir.path / "data_batch_3.bin", cifar_records({{9}, {0}}, 50));
  auto d = load_cifar10(dir.str(), true);
  ASSERT_EQ(d->size(), 5);
  EXPECT_EQ(d->label(3), 9);
  EXPECT_EQ(sample(*d, 3).first[3071], 50 / 255.f);
  EXPECT_EQ(sample(*d, 2).first[0], 12 / 255.f);
  EXPECT_EQ(d->class_names()[4], "4");  // no batches.meta.txt
}

TEST(Cifar, WrongSizeMissingFileAndBadLabelNameTheFile) {
  TempDir dir;
  std::vector<uint8_t> bytes = cifar_records({{1}, {2}}, 0);
  bytes.resize(bytes.size() + 5);
  write_bytes(dir.path / "test_batch.bin", bytes);
  expect_error([&] { load_cifar10(dir.str(), false); }, {"test_batch.bin", "6151 bytes", "3073"});
  expect_error([&] { load_cifar10(dir.str(), true); }, {"data_batch_1.bin", dir.str()});
  expect_error([&] { load_cifar10((dir.path / "nope").string(), false); }, {"nope", "not a directory"});
  write_bytes(dir.path / "data_batch_2.bin", cifar_records({{1}, {10}}, 0));
  expect_error([&] { load_cifar10(dir.str(), true); }, {"data_batch_2.bin", "record 1", "label 10"});
  write_bytes(dir.path / "data_batch_2.bin", cifar_records({{1}}, 0));
  write_bytes(dir.path / "batches.meta.txt", {'a', '\n', 'b', '\n'});
  expect_error([&] { load_cifar10(dir.str(), true); }, {"batches.meta.txt", "2 class names"});
}

TEST(Cifar, Cifar100UsesFineLabels) {
  TempDir dir;
  write_bytes(dir.path / "train.bin", cifar_records({{3, 57}, {19, 99}}, 0));
  std::string names;
  for (int c = 0; c < 100; ++c) names += "class" + std::to_string(c) + "\n";
  write_bytes(dir.path / "fine_label_names.txt", std::vector<uint8_t>(names.begin(), names.end()));
  auto d = load_cifar100(dir.str(), true);
  ASSERT_EQ(d->size(), 2);
  EXPECT_EQ(d->num_classes(), 100);
  EXPECT_EQ(d->label(0), 57);
  EXPECT_EQ(sample(*d, 1).second, 99);
  EXPECT_EQ(d->class_names()[57], "class57");
  write_bytes(dir.path / "test.bin", cifar_records({{3, 100}}, 0));
  expect_error([&] { load_cifar100(dir.str(), false); }, {"test.bin", "record 0", "label 100"});
  write_bytes(dir.path / "test.bin", std::vector<uint8_t>(3073, 0));  // a CIFAR-10-sized record
  expect_error([&] { load_cifar100(dir.str(), false); }, {"test.bin", "3074"});
}

// ---------------------------------------------------------------- IDX

namespace {

std::vector<uint8_t> idx_bytes(uint8_t ndims, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0, 0, 8, ndims};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(d >> s));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_gz(const fs::path& p, const std::vector<uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

// 3 images of 2x3 (pixel k of image i = 10*i + k) with labels 7, 0, 9.
void write_idx_set(const fs::path& dir, const std::string& prefix, bool gz) {
  std::vector<uint8_t> px;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 6; ++k) px.push_back(uint8_t(10 * i + k));
  auto images = idx_bytes(3, {3, 2, 3}, px), labels = idx_bytes(1, {3}, {7, 0, 9});
  if (gz) {
    write_gz(dir / (prefix + "-images-idx3-ubyte.gz"), images);
    write_gz(dir / (prefix + "-labels-idx1-ubyte.gz"), labels);
  } else {
    write_bytes(dir / (prefix + "-images-idx3-ubyte"), images);
    write_bytes(dir / (prefix + "-labels-idx1-ubyte"), labels);
  }
}

}  // namespace

TEST(Idx, PlainAndGzipReadTheSame) {
  TempDir dir;
  write_idx_set(dir.path / "plain", "t10k", false);
  write_idx_set(dir.path / "gz", "t10k", true);
  for (const char* sub : {"plain", "gz"}) {
    auto d = load_idx(IdxSet::FashionMnist, (dir.path / sub).string(), false);
    ASSERT_EQ(d->size(), 3) << sub;
    EXPECT_EQ(d->sample_shape(), (Shape{1, 2, 3}));
    EXPECT_EQ(d->class_names()[9], "Ankle boot");
    auto [px, label] = sample(*d, 2);
    EXPECT_EQ(label, 9);
    for (int k = 0; k < 6; ++k) EXPECT_EQ(px[k], (20 + k) / 255.f) << sub << " " << k;
  }
  EXPECT_EQ(load_idx(IdxSet::Mnist, (dir.path / "gz").string(), false)->class_names()[9], "9");
  expect_error([&] { load_idx(IdxSet::Mnist, (dir.path / "gz").string(), true); },
               {"train-images-idx3-ubyte.gz", "found in"});
}

TEST(Idx, BadMagicTruncationCountMismatchAndLabelRangeNameTheFile) {
  TempDir dir;
  const fs::path img = dir.path / "train-images-idx3-ubyte", lab = dir.path / "train-labels-idx1-ubyte";
  auto load = [&] { load_idx(IdxSet::Mnist, dir.str(), true); };
  write_bytes(lab, idx_bytes(1, {2}, {1, 2}));
  write_bytes(img, idx_bytes(1, {12}, std::vector<uint8_t>(12)));  // a labels file where images belong
  expect_error(load, {img.string(), "bad IDX magic 0x00000801", "0x00000803"});
  write_bytes(img, idx_bytes(3, {2, 2, 2}, std::vector<uint8_t>(7)));
  expect_error(load, {img.string(), "truncated", "7 of 8"});
  write_bytes(img, idx_bytes(3, {2, 2, 2}, std::vector<uint8_t>(9)));
  expect_error(load, {img.string(), "more data"});
  write_bytes(img, idx_bytes(3, {3, 2, 2}, std::vector<uint8_t>(12)));
  expect_error(load, {lab.string(), "2 labels", "3 images"});
  write_gz(fs::path(lab.string() + ".gz"), idx_bytes(1, {3}, {1, 10, 2}));
  fs::remove(lab);
  expect_error(load, {lab.string() + ".gz", "label 10", "item 1"});
  write_bytes(lab.string() + ".gz", {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3});  // corrupt gzip
  expect_error(load, {lab.string() + ".gz"});
}

TEST(IdxFashionMnist, RealFilesAreBalancedAndInRange) {
  if (!fs::exists(kFashion)) GTEST_SKIP() << kFashion << " not present (tools/setup.sh installs it)";
  auto train = load_idx(IdxSet::FashionMnist, kFashion, true), test = load_idx(IdxSet::FashionMnist, kFashion, false);
  ASSERT_EQ(train->size(), 60000);
  ASSERT_EQ(test->size(), 10000);
  EXPECT_EQ(train->sample_shape(), (Shape{1, 28, 28}));
  std::vector<int64_t> counts(10);
  for (int64_t i = 0; i < train->size(); ++i) ++counts[train->label(i)];
  EXPECT_EQ(counts, std::vector<int64_t>(10, 6000));
  EXPECT_EQ(train->label(0), 9);  // the first training item is an ankle boot
  auto [px, label] = sample(*test, 0);
  EXPECT_GT(*std::max_element(px.begin(), px.end()), 0.9f);
  EXPECT_EQ(*std::min_element(px.begin(), px.end()), 0.f);
}

// ---------------------------------------------------------------- ImageFolder

namespace {

// A [3, h, w] image whose pixel (y, x) is (r, g, b + y + x) / 255.
Tensor solid(int64_t h, int64_t w, int r, int g, int b) {
  std::vector<float> v(3 * h * w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      v[(0 * h + y) * w + x] = r / 255.f;
      v[(1 * h + y) * w + x] = g / 255.f;
      v[(2 * h + y) * w + x] = (b + y + x) / 255.f;
    }
  return Tensor::from_vector(v, {3, h, w});
}

void write_png(const fs::path& p, const Tensor& chw) {
  fs::create_directories(p.parent_path());
  write_image(p.string(), chw);
}

}  // namespace

TEST(ImageFolder, LoadsSortedClassesFromPngs) {
  TempDir dir;
  if (!image_decoding_available()) {
    expect_error([&] { ImageFolder(dir.str(), "train"); }, {"without OpenCV"});
    return;
  }
  write_png(dir.path / "train/cat/b.png", solid(5, 4, 200, 10, 0));
  write_png(dir.path / "train/cat/a.png", solid(5, 4, 100, 20, 7));
  write_png(dir.path / "train/ant/z.png", solid(5, 4, 255, 0, 0));
  write_png(dir.path / "train/ant/y.png", solid(5, 4, 0, 255, 9));
  write_bytes(dir.path / "train/ant/notes.txt", {'x'});
  write_png(dir.path / "test/cat/q.png", solid(5, 4, 1, 2, 3));
  ImageFolder train(dir.str(), "train"), test(dir.str(), "test");
  EXPECT_EQ(train.class_names(), (std::vector<std::string>{"ant", "cat"}));
  ASSERT_EQ(train.size(), 4);
  EXPECT_EQ(train.sample_shape(), (Shape{3, 5, 4}));
  EXPECT_EQ(fs::path(train.path(0)).filename(), "y.png");
  EXPECT_EQ(fs::path(train.path(2)).filename(), "a.png");
  EXPECT_EQ((std::vector<int64_t>{train.label(0), train.label(1), train.label(2), train.label(3)}),
            (std::vector<int64_t>{0, 0, 1, 1}));
  auto [px, label] = sample(train, 2);  // cat/a.png, lossless PNG, RGB order
  EXPECT_EQ(label, 1);
  EXPECT_EQ(px, solid(5, 4, 100, 20, 7).to_vector());
  ASSERT_EQ(test.size(), 1);
  EXPECT_EQ(test.num_classes(), 2);
  EXPECT_EQ(test.label(0), 1);  // labels follow the train split's classes
  // Loader over the folder; images in sorted order.
  LoaderOptions o;
  o.batch_size = 3;
  o.shuffle = false;
  DataLoader l(std::make_shared<ImageFolder>(dir.str(), "train"), o);
  const auto e = epoch(l, 0);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(labels_of(e), (std::vector<int64_t>{0, 0, 1, 1}));
}

TEST(ImageFolder, ResizesToTheFirstImageAndReportsBadFiles) {
  TempDir dir;
  if (!image_decoding_available()) GTEST_SKIP() << "built without OpenCV";
  write_png(dir.path / "train/a/1.png", solid(4, 6, 10, 20, 30));
  write_png(dir.path / "train/b/2.png", Tensor::full({3, 8, 12}, 0.5));
  write_bytes(dir.path / "train/b/3.jpg", {1, 2, 3, 4});  // not an image
  ImageFolder f(dir.str(), "train");
  EXPECT_EQ(f.sample_shape(), (Shape{3, 4, 6}));
  const auto [px, label] = sample(f, 1);
  for (float v : px) ASSERT_NEAR(v, 128 / 255.f, 1e-6);  // a constant image stays constant when resized
  expect_error([&] { sample(f, 2); }, {"3.jpg"});
  LoaderOptions o;
  o.batch_size = 2;
  o.shuffle = false;
  DataLoader l(std::make_shared<ImageFolder>(dir.str(), "train", ImageFolderOptions{1, 2, 3}), o);
  EXPECT_EQ(l.sample_shape(), (Shape{1, 2, 3}));
  l.start_epoch(0);
  Batch b;
  ASSERT_TRUE(l.next(b));
  expect_error([&] { l.next(b); }, {"batch 1", "3.jpg"});
  expect_error([&] { ImageFolder(dir.str(), "test"); }, {"test", "not a directory"});
  write_png(dir.path / "test/zebra/1.png", solid(4, 6, 0, 0, 0));
  expect_error([&] { ImageFolder(dir.str(), "test"); }, {"zebra", "not among"});
}
