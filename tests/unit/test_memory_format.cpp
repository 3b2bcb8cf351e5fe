// Memory formats (row-major NCHW vs channels-last NHWC) and the CPU caching allocator:
// format_strides values, is_contiguous/memory_format on size-1 dims, exact reorders
// (NHWC storage index of every element), clone/copy_/fill_/empty_like/to_vector across
// formats; freed large blocks reused by the allocator; and every NHWC-aware op (relu,
// add incl. mixed formats, mul_scalar, max/avg/adaptive pooling, shortcut_pad, conv2d)
// giving bitwise the same values and input gradients for NHWC and NCHW inputs (the
// whole-plane average's forward: within 1e-6, see GlobalAveragePool), with the output
// in the input's format (conv: always NHWC).
#include <cstring>

#include "framework/backends/cpu/allocator.h"
#include "framework/ops/conv.h"
#include "framework/ops/eltwise.h"
#include "framework/ops/pool.h"
#include "framework/ops/shortcut.h"
#include "test_util.h"

using namespace nf;
using namespace nf::test;

namespace {

constexpr MemoryFormat NC = MemoryFormat::Contiguous, CL = MemoryFormat::ChannelsLast;

// Runs f on x (NCHW) and on the same values stored NHWC, then backward with one random
// upstream gradient (given in each output's own format). Values and input gradients
// must match bitwise (forward within fwd_rtol instead when given); each output must be
// laid out in its input's format.
void check_layouts(const std::string& what, const Shape& s, const std::function<Tensor(const Tensor&)>& f,
                   double fwd_rtol = 0, uint64_t seed = 1) {
  SCOPED_TRACE(what);
  Tensor x0 = randn(s, seed);
  Tensor xa = param(x0), xb = param(x0.contiguous(CL));
  ASSERT_EQ(xb.memory_format(), CL);
  Tensor ya = f(xa), yb = f(xb);
  EXPECT_TRUE(ya.is_contiguous(NC)) << "NCHW input gave a non-NCHW output";
  EXPECT_TRUE(yb.is_contiguous(CL)) << "NHWC input gave a non-NHWC output";
  if (fwd_rtol > 0)
    expect_close(what + " NHWC vs NCHW", yb, ya, fwd_rtol, 1e-6);
  else
    EXPECT_EQ(ya.to_vector(), yb.to_vector());
  Tensor g = randn(ya.shape(), seed + 100);
  ya.backward(g.contiguous(NC));
  yb.backward(g.contiguous(CL));
  ASSERT_TRUE(xa.grad().defined() && xb.grad().defined());
  EXPECT_EQ(xa.grad().to_vector(), xb.grad().to_vector());
}

}  // namespace

TEST(MemoryFormat, FormatStrides) {
  EXPECT_EQ(format_strides({2, 3, 4, 5}, NC), (Shape{60, 20, 5, 1}));
  EXPECT_EQ(format_strides({2, 3, 4, 5}, CL), (Shape{60, 1, 15, 3}));
  EXPECT_EQ(format_strides({2, 3, 4}, NC), (Shape{12, 4, 1}));
  EXPECT_EQ(format_strides({2, 3, 4}, CL), (Shape{12, 1, 3}));
  EXPECT_EQ(format_strides({2, 3}, CL), (Shape{3, 1}));
  EXPECT_EQ(format_strides({2, 3}, NC), (Shape{3, 1}));
  EXPECT_EQ(format_strides({7}, CL), (Shape{1}));
}

TEST(MemoryFormat, SizeOneDimsAreBothFormats) {
  for (MemoryFormat f : {NC, CL}) {
    Tensor t = Tensor::empty({4, 3, 1, 1}, DType::F32, Device::cpu(), f);
    EXPECT_TRUE(t.is_contiguous(NC));
    EXPECT_TRUE(t.is_contiguous(CL));
    EXPECT_TRUE(t.is_dense());
    EXPECT_EQ(t.memory_format(), NC);  // row-major wins when both hold
  }
  Tensor t = Tensor::empty({2, 3, 4, 5}, DType::F32, Device::cpu(), CL);
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
}

TEST(MemoryFormat, ReorderRoundTripIsExact) {
  const int64_t N = 2, C = 3, H = 4, W = 5;
  Tensor x = randn({N, C, H, W}, 3);
  const std::vector<float> v = x.to_vector();
  Tensor y = x.contiguous(CL);
  ASSERT_EQ(y.strides(), format_strides(x.shape(), CL));
  EXPECT_EQ(y.contiguous(CL).raw_data(), y.raw_data()) << "already NHWC: no copy";
  const float* p = y.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          ASSERT_EQ(p[n * H * W * C + (h * W + w) * C + c], v[((n * C + c) * H + h) * W + w])
              << "n=" << n << " c=" << c << " h=" << h << " w=" << w;
  Tensor z = y.contiguous();
  ASSERT_TRUE(z.is_contiguous());
  EXPECT_EQ(0, std::memcmp(z.raw_data(), x.raw_data(), x.nbytes()));
  EXPECT_EQ(y.to_vector(), v) << "to_vector of NHWC is in logical NCHW order";
  // 3-D: [N, C, L] channels-last is [N, L, C].
  Tensor a = randn({2, 3, 4}, 4);
  const std::vector<float> av = a.to_vector();
  Tensor b = a.contiguous(CL);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t l = 0; l < 4; ++l) ASSERT_EQ(b.data<float>()[n * 12 + l * 3 + c], av[(n * 3 + c) * 4 + l]);
  EXPECT_EQ(b.to_vector(), av);
}

TEST(MemoryFormat, CloneCopyFillEmptyLike) {
  Tensor x = randn({3, 4, 5, 2}, 5);
  Tensor y = x.contiguous(CL);
  Tensor c = y.clone();
  EXPECT_EQ(c.memory_format(), CL);
  EXPECT_NE(c.raw_data(), y.raw_data());
  EXPECT_EQ(0, std::memcmp(c.raw_data(), y.raw_data(), y.nbytes()));
  EXPECT_EQ(x.clone().memory_format(), NC);
  // copy_ NCHW -> NHWC and NHWC -> NCHW.
  Tensor d = Tensor::empty(x.shape(), DType::F32, Device::cpu(), CL);
  d.copy_(x);
  EXPECT_EQ(d.memory_format(), CL);
  EXPECT_EQ(0, std::memcmp(d.raw_data(), y.raw_data(), y.nbytes()));
  Tensor e = Tensor::empty(x.shape());
  e.copy_(y);
  EXPECT_EQ(0, std::memcmp(e.raw_data(), x.raw_data(), x.nbytes()));
  Tensor f = Tensor::empty(x.shape(), DType::F32, Device::cpu(), CL);
  f.copy_(y);  // same format: plain byte copy
  EXPECT_EQ(f.to_vector(), x.to_vector());
  // fill_ on NHWC.
  d.fill_(2.5);
  EXPECT_EQ(d.memory_format(), CL);
  EXPECT_EQ(d.to_vector(), std::vector<float>(x.numel(), 2.5f));
  // empty_like keeps the format (and the 3-D one).
  EXPECT_EQ(Tensor::empty_like(y).strides(), y.strides());
  EXPECT_EQ(Tensor::empty_like(x).strides(), x.strides());
  Tensor t3 = Tensor::empty({2, 3, 4}, DType::F32, Device::cpu(), CL);
  EXPECT_EQ(Tensor::empty_like(t3).memory_format(), CL);
}

TEST(MemoryFormatAllocator, FreedLargeBlockIsReusedBySize) {
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

TEST(ChannelsLastOps, Eltwise) {
  check_layouts("relu", {2, 3, 5, 4}, [](const Tensor& x) { return ops::relu(x); });
  check_layouts("mul_scalar", {2, 3, 5, 4}, [](const Tensor& x) { return ops::mul_scalar(x, -1.7f); });
  Tensor other = randn({2, 3, 5, 4}, 9);
  check_layouts("add", {2, 3, 5, 4}, [&](const Tensor& x) { return ops::add(x, other.contiguous(x.memory_format())); });
  check_layouts("relu 3-D", {2, 5, 7}, [](const Tensor& x) { return ops::relu(x); });
}

TEST(ChannelsLastOps, AddMixedFormats) {
  Tensor a0 = randn({3, 4, 3, 5}, 11), b0 = randn({3, 4, 3, 5}, 12);
  const std::vector<float> want = ops::add(a0, b0).to_vector();
  for (MemoryFormat fa : {NC, CL})
    for (MemoryFormat fb : {NC, CL}) {
      SCOPED_TRACE("a " + std::to_string(int(fa)) + " b " + std::to_string(int(fb)));
      Tensor a = param(a0.contiguous(fa)), b = param(b0.contiguous(fb));
      Tensor y = ops::add(a, b);
      EXPECT_TRUE(y.is_contiguous(fa)) << "output takes the first operand's format";
      EXPECT_EQ(y.to_vector(), want);
      Tensor g = randn(y.shape(), 13);
      ops::relu(y).backward(g);
      Tensor mask = ops::relu(ops::add(a0, b0));
      std::vector<float> gv = g.to_vector(), mv = mask.to_vector(), dv(gv.size());
      for (size_t i = 0; i < gv.size(); ++i) dv[i] = mv[i] > 0.f ? gv[i] : 0.f;
      EXPECT_EQ(a.grad().to_vector(), dv);
      EXPECT_EQ(b.grad().to_vector(), dv);
    }
}

TEST(ChannelsLastOps, Pooling) {
  const Shape s{3, 4, 7, 5};
  check_layouts("max k3s2p1", s, [](const Tensor& x) { return ops::max_pool2d(x, 3, 2, 1); });
  check_layouts("max k2s2p0", s, [](const Tensor& x) { return ops::max_pool2d(x, 2, 2, 0); });
  check_layouts("avg k3s2p1", s, [](const Tensor& x) { return ops::avg_pool2d(x, 3, 2, 1); });
  check_layouts("avg k3s1p0", s, [](const Tensor& x) { return ops::avg_pool2d(x, 3, 1, 0); });
  check_layouts("adaptive uniform 7x1", s, [](const Tensor& x) { return ops::adaptive_avg_pool2d(x, 7, 1); });
}

// A whole-plane average runs oneDNN's reduction on NCHW but its pooling on NHWC (see
// pool.cpp): another summation order, so the forward agrees to rounding only (seen:
// 1 ulp); the backward (pooling in both) stays bitwise.
TEST(ChannelsLastOps, GlobalAveragePool) {
  const Shape s{3, 4, 7, 5};
  check_layouts("adaptive 1x1", s, [](const Tensor& x) { return ops::adaptive_avg_pool2d(x, 1, 1); }, 1e-6);
  check_layouts("avg k5 on 5x5", {2, 3, 5, 5}, [](const Tensor& x) { return ops::avg_pool2d(x, 5, 1, 0); }, 1e-6);
}

// Non-uniform adaptive bins run the plain-loop path; split so that its layout and its
// values are reported separately.
TEST(ChannelsLastOps, AdaptiveNonUniformValues) {
  Tensor x0 = randn({3, 4, 7, 5}, 21);
  Tensor xa = param(x0), xb = param(x0.contiguous(CL));
  Tensor ya = ops::adaptive_avg_pool2d(xa, 3, 2), yb = ops::adaptive_avg_pool2d(xb, 3, 2);
  EXPECT_EQ(ya.to_vector(), yb.to_vector());
  Tensor g = randn(ya.shape(), 22);
  ya.backward(g);
  yb.backward(g);
  EXPECT_EQ(xa.grad().to_vector(), xb.grad().to_vector());
}

TEST(ChannelsLastOps, AdaptiveNonUniformKeepsFormat) {
  Tensor x = randn({3, 4, 7, 5}, 21).contiguous(CL);
  EXPECT_TRUE(ops::adaptive_avg_pool2d(x, 3, 2).is_contiguous(CL))
      << "pool.cpp adaptive_forward (non-uniform bins) returns NCHW for an NHWC input";
}

TEST(ChannelsLastOps, ShortcutPad) {
  check_layouts("shortcut s2 6ch", {3, 2, 5, 4}, [](const Tensor& x) { return ops::shortcut_pad(x, 6, 2); });
  check_layouts("shortcut s1 4ch", {2, 3, 4, 3}, [](const Tensor& x) { return ops::shortcut_pad(x, 5, 1); });
}

// The NCHW input is reordered exactly into NHWC and runs the same primitive.
TEST(ChannelsLastOps, Conv2dNhwcInputMatchesNchw) {
  struct Case {
    Shape x, w;
    ops::Conv2dParams p;
  };
  const Case cases[] = {{{2, 3, 7, 6}, {4, 3, 3, 3}, {1, 1, 1, 1}},
                        {{3, 5, 9, 8}, {6, 5, 3, 3}, {2, 2, 1, 1}},
                        {{2, 4, 5, 5}, {8, 4, 1, 1}, {2, 2, 0, 0}}};
  for (const Case& k : cases) {
    SCOPED_TRACE(shape_str(k.x) + " * " + shape_str(k.w) + " stride " + std::to_string(k.p.stride_h));
    Tensor x0 = randn(k.x, 31), w0 = randn(k.w, 32, 0.3f), b0 = randn({k.w[0]}, 33);
    Tensor xa = param(x0), xb = param(x0.contiguous(CL));
    Tensor wa = param(w0), wb = param(w0), ba = param(b0), bb = param(b0);
    Tensor ya = ops::conv2d(xa, wa, ba, k.p), yb = ops::conv2d(xb, wb, bb, k.p);
    EXPECT_EQ(ya.memory_format(), CL);
    EXPECT_EQ(yb.memory_format(), CL);
    EXPECT_EQ(ya.to_vector(), yb.to_vector());
    Tensor g = randn(ya.shape(), 34);
    ya.backward(g);
    yb.backward(g.contiguous(CL));
    EXPECT_EQ(xa.grad().to_vector(), xb.grad().to_vector());
    EXPECT_EQ(wa.grad().to_vector(), wb.grad().to_vector());
    EXPECT_EQ(ba.grad().to_vector(), bb.grad().to_vector());
  }
}

// conv's dx is NHWC, for an NCHW input too: a probe node between the leaf and the
// conv sees the gradient the conv hands back (the leaf's .grad is made row-major).
TEST(ChannelsLastOps, Conv2dInputGradientIsChannelsLast) {
  Tensor x = param(randn({2, 3, 6, 5}, 41));
  Tensor seen;
  Tensor probe = record(x.detach(), "probe", {x}, [&seen](const Tensor& g) {
    seen = g;
    return std::vector<Tensor>{g};
  });
  Tensor y = ops::conv2d(probe, randn({4, 3, 3, 3}, 42), Tensor(), {1, 1, 1, 1});
  EXPECT_EQ(y.memory_format(), CL);
  y.backward(randn(y.shape(), 43));
  ASSERT_TRUE(seen.defined());
  EXPECT_EQ(seen.memory_format(), CL);
  EXPECT_EQ(seen.to_vector(), x.grad().to_vector());
}
