// Memory formats (row-major NCHW vs channels-last NHWC) of tensors, per device
// (device_test.h): is_contiguous/memory_format on size-1 dims, exact reorders (NHWC
// storage index of every element, odd shapes), clone/copy_/fill_/zeros/full/empty_like/
// to_vector across formats (F32 and I64); format_strides values (host); the CPU caching
// allocator reusing freed large blocks (CPU only). The ops on channels-last inputs:
// test_channels_last_ops.cpp.
#include <cstring>

#include "device_test.h"
#include "framework/backends/cpu/allocator.h"

using namespace nf;
using namespace nf::test;

namespace {

constexpr MemoryFormat NC = MemoryFormat::Contiguous, CL = MemoryFormat::ChannelsLast;

// The raw bytes of a dense tensor in its own memory order, on the host.
std::vector<uint8_t> bytes(const Tensor& t) {
  const Tensor h = host(t);
  const uint8_t* p = static_cast<const uint8_t*>(h.raw_data());
  return std::vector<uint8_t>(p, p + h.nbytes());
}

}  // namespace

NF_DEVICE_TEST_SUITE(TensorFormat);

TEST(FormatStrides, ValuesPerFormat) {
  EXPECT_EQ(format_strides({2, 3, 4, 5}, NC), (Shape{60, 20, 5, 1}));
  EXPECT_EQ(format_strides({2, 3, 4, 5}, CL), (Shape{60, 1, 15, 3}));
  EXPECT_EQ(format_strides({2, 3, 4}, NC), (Shape{12, 4, 1}));
  EXPECT_EQ(format_strides({2, 3, 4}, CL), (Shape{12, 1, 3}));
  EXPECT_EQ(format_strides({2, 3}, CL), (Shape{3, 1}));
  EXPECT_EQ(format_strides({2, 3}, NC), (Shape{3, 1}));
  EXPECT_EQ(format_strides({7}, CL), (Shape{1}));
}

TEST_P(TensorFormat, SizeOneDimsAreBothFormats) {
  for (MemoryFormat f : {NC, CL}) {
    Tensor t = Tensor::empty({4, 3, 1, 1}, DType::F32, device(), f);
    EXPECT_TRUE(t.is_contiguous(NC));
    EXPECT_TRUE(t.is_contiguous(CL));
    EXPECT_TRUE(t.is_dense());
    EXPECT_EQ(t.memory_format(), NC);  // row-major wins when both hold
  }
  Tensor t = Tensor::empty({2, 3, 4, 5}, DType::F32, device(), CL);
  EXPECT_FALSE(t.is_contiguous(NC));
  EXPECT_TRUE(t.is_contiguous(CL));
  EXPECT_TRUE(t.is_dense());
  EXPECT_EQ(t.memory_format(), CL);
  // Neither format (H and W swapped): not dense, fill_ refuses, dense() packs it.
  auto impl = std::make_shared<TensorImpl>(*t.impl());
  impl->strides = {60, 20, 1, 4};
  Tensor odd(impl);
  EXPECT_FALSE(odd.is_dense());
  EXPECT_THROW(odd.fill_(1.0), Error);
  EXPECT_TRUE(odd.dense().is_contiguous(NC));
  EXPECT_EQ(odd.dense().device(), device());
}

TEST_P(TensorFormat, ReorderRoundTripIsExact) {
  const int64_t N = 2, C = 3, H = 4, W = 5;
  Tensor x = dev(randn({N, C, H, W}, 3));
  const std::vector<float> v = x.to_vector();
  Tensor y = x.contiguous(CL);
  ASSERT_EQ(y.strides(), format_strides(x.shape(), CL));
  EXPECT_EQ(y.device(), device());
  EXPECT_EQ(y.contiguous(CL).raw_data(), y.raw_data()) << "already NHWC: no copy";
  const Tensor yh = host(y);
  const float* p = yh.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          ASSERT_EQ(p[n * H * W * C + (h * W + w) * C + c], v[((n * C + c) * H + h) * W + w])
              << "n=" << n << " c=" << c << " h=" << h << " w=" << w;
  Tensor z = y.contiguous();
  ASSERT_TRUE(z.is_contiguous());
  EXPECT_EQ(bytes(z), bytes(x));
  EXPECT_EQ(y.to_vector(), v) << "to_vector of NHWC is in logical NCHW order";
  // 3-D: [N, C, L] channels-last is [N, L, C].
  Tensor a = dev(randn({2, 3, 4}, 4));
  const std::vector<float> av = a.to_vector();
  Tensor b = host(a.contiguous(CL));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t l = 0; l < 4; ++l) ASSERT_EQ(b.data<float>()[n * 12 + l * 3 + c], av[(n * 3 + c) * 4 + l]);
  EXPECT_EQ(b.to_vector(), av);
}

// Odd and degenerate shapes: the reorder on the device gives the host's bytes, both ways.
TEST_P(TensorFormat, ReorderOfOddShapesMatchesTheHostBytes) {
  for (const Shape& s : {Shape{3, 5, 7, 6}, Shape{1, 64, 1, 1}, Shape{2, 3, 33, 1}, Shape{3, 5, 4}}) {
    SCOPED_TRACE(shape_str(s));
    const Tensor h = randn(s, 3), cl = h.contiguous(CL);
    const Tensor d = dev(h).contiguous(CL);
    EXPECT_EQ(d.device(), device());
    EXPECT_TRUE(d.is_contiguous(CL));
    EXPECT_EQ(bytes(d), bytes(cl)) << "contiguous(ChannelsLast)";
    const Tensor back = d.contiguous();
    EXPECT_TRUE(back.is_contiguous());
    EXPECT_EQ(bytes(back), bytes(h)) << "ChannelsLast -> Contiguous";
    Tensor dst = Tensor::empty(s, DType::F32, device(), CL);
    dst.copy_(dev(h));
    EXPECT_EQ(bytes(dst), bytes(cl)) << "copy_ NCHW -> NHWC";
  }
}

TEST_P(TensorFormat, CloneCopyFillEmptyLike) {
  Tensor x = dev(randn({3, 4, 5, 2}, 5));
  Tensor y = x.contiguous(CL);
  Tensor c = y.clone();
  EXPECT_EQ(c.memory_format(), CL);
  EXPECT_EQ(c.device(), device());
  EXPECT_NE(c.raw_data(), y.raw_data());
  EXPECT_EQ(bytes(c), bytes(y));
  EXPECT_EQ(x.clone().memory_format(), NC);
  // copy_ NCHW -> NHWC and NHWC -> NCHW.
  Tensor d = Tensor::empty(x.shape(), DType::F32, device(), CL);
  d.copy_(x);
  EXPECT_EQ(d.memory_format(), CL);
  EXPECT_EQ(bytes(d), bytes(y));
  Tensor e = Tensor::empty(x.shape(), DType::F32, device());
  e.copy_(y);
  EXPECT_EQ(bytes(e), bytes(x));
  Tensor f = Tensor::empty(x.shape(), DType::F32, device(), CL);
  f.copy_(y);  // same format: plain byte copy
  EXPECT_EQ(f.to_vector(), x.to_vector());
  // fill_ on NHWC.
  d.fill_(2.5);
  EXPECT_EQ(d.memory_format(), CL);
  EXPECT_EQ(d.to_vector(), std::vector<float>(x.numel(), 2.5f));
  // The clone is independent of its source.
  y.fill_(0.0);
  EXPECT_NE(bytes(c), bytes(y));
  // empty_like keeps the format (and the 3-D one) and the device.
  EXPECT_EQ(Tensor::empty_like(y).strides(), y.strides());
  EXPECT_EQ(Tensor::empty_like(x).strides(), x.strides());
  EXPECT_EQ(Tensor::empty_like(y).device(), device());
  Tensor t3 = Tensor::empty({2, 3, 4}, DType::F32, device(), CL);
  EXPECT_EQ(Tensor::empty_like(t3).memory_format(), CL);
}

TEST_P(TensorFormat, ZerosFullAndFillOfEachDtype) {
  EXPECT_EQ(Tensor::zeros({3, 5, 7}, DType::F32, device()).to_vector(), std::vector<float>(105, 0.f));
  EXPECT_EQ(Tensor::full({1001}, -2.5, DType::F32, device()).to_vector(), std::vector<float>(1001, -2.5f));
  EXPECT_EQ(Tensor::full({5}, 7, DType::I64, device()).to_int_vector(), std::vector<int64_t>(5, 7));
  EXPECT_EQ(Tensor::zeros({}, DType::I64, device()).to_int_vector(), std::vector<int64_t>{0});
  EXPECT_EQ(Tensor::full({}, 3.25, DType::F32, device()).item(), 3.25);
  Tensor t = Tensor::empty({3, 5, 7, 6}, DType::F32, device(), CL);
  t.fill_(0.1);
  EXPECT_EQ(t.to_vector(), std::vector<float>(t.numel(), 0.1f));
  EXPECT_TRUE(t.is_contiguous(CL));
  std::vector<int64_t> labels(1001);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = int64_t(i * 7919 % 1000);
  EXPECT_EQ(dev(Tensor::from_vector(labels, {1001})).to_int_vector(), labels);
}

TEST(CpuAllocator, FreedLargeBlockIsReusedBySize) {
  const size_t n = size_t{1} << 20;
  cpu_release_cache();
  EXPECT_EQ(cpu_cached_bytes(), 0u);
  void* p = nullptr;
  { Storage s(n, Device::cpu()); p = s.data(); }
  EXPECT_EQ(cpu_cached_bytes(), n);
  {
    Storage s(n - 100, Device::cpu());  // rounds up to the same page-rounded size
    EXPECT_EQ(s.data(), p);
    EXPECT_EQ(cpu_cached_bytes(), 0u);
  }
  EXPECT_EQ(cpu_cached_bytes(), n);
  {
    Storage other(n + 4096, Device::cpu());  // another size: not that block
    EXPECT_NE(other.data(), p);
    EXPECT_EQ(cpu_cached_bytes(), n);
  }
  EXPECT_EQ(cpu_cached_bytes(), n + n + 4096);
  { Storage small(1000, Device::cpu()); }  // below 64 KiB: never cached
  EXPECT_EQ(cpu_cached_bytes(), n + n + 4096);
  cpu_release_cache();
  EXPECT_EQ(cpu_cached_bytes(), 0u);
}

