// Every NHWC-aware op on channels-last inputs, per device (device_test.h): relu, add
// (incl. mixed formats), mul_scalar, max/avg/adaptive pooling, shortcut_pad and conv2d
// give the same values and input gradients for NHWC and NCHW inputs, with the output in
// the input's format (conv on the CPU: always NHWC, its dx too). On the CPU they agree
// bitwise (the whole-plane average's forward: within 1e-6, see GlobalAveragePool); on
// CUDA the elementwise ops, max pooling, shortcut_pad and the non-uniform adaptive
// average agree bitwise, while cuDNN's average pooling and convolution may sum in
// another order per layout and agree to rounding (the tolerances at each call).
#include "device_test.h"
#include "framework/autograd/autograd.h"
#include "framework/ops/conv.h"
#include "framework/ops/eltwise.h"
#include "framework/ops/pool.h"
#include "framework/ops/shortcut.h"

using namespace nf;
using namespace nf::test;

namespace {

constexpr MemoryFormat NC = MemoryFormat::Contiguous, CL = MemoryFormat::ChannelsLast;

// Runs f on x (NCHW) and on the same values stored NHWC, on device d, then backward with
// one random upstream gradient (given in each output's own format). Values and input
// gradients must match bitwise (forward within fwd_rtol instead when given; forward and
// backward within cuda_rtol on CUDA when given); each output must be laid out in its
// input's format.
void check_layouts(Device d, const std::string& what, const Shape& s, const std::function<Tensor(const Tensor&)>& f,
                   double fwd_rtol = 0, uint64_t seed = 1, double cuda_rtol = 0) {
  SCOPED_TRACE(what);
  Tensor x0 = randn(s, seed);
  Tensor xa = to_device(d, param(x0)), xb = to_device(d, param(x0.contiguous(CL)));
  ASSERT_EQ(xb.memory_format(), CL);
  Tensor ya = f(xa), yb = f(xb);
  EXPECT_TRUE(ya.is_contiguous(NC)) << "NCHW input gave a non-NCHW output";
  EXPECT_TRUE(yb.is_contiguous(CL)) << "NHWC input gave a non-NHWC output";
  const double rtol = d.is_cuda() && cuda_rtol > 0 ? cuda_rtol : fwd_rtol;
  if (rtol > 0)
    expect_close(what + " NHWC vs NCHW", yb, ya, rtol, 1e-6);
  else
    EXPECT_EQ(ya.to_vector(), yb.to_vector());
  Tensor g = randn(ya.shape(), seed + 100);
  ya.backward(to_device(d, g.contiguous(NC)));
  yb.backward(to_device(d, g.contiguous(CL)));
  ASSERT_TRUE(xa.grad().defined() && xb.grad().defined());
  if (d.is_cuda() && cuda_rtol > 0)
    expect_close(what + " dx NHWC vs NCHW", xb.grad(), xa.grad(), cuda_rtol, 1e-6);
  else
    EXPECT_EQ(xa.grad().to_vector(), xb.grad().to_vector());
}

}  // namespace

NF_DEVICE_TEST_SUITE(ChannelsLastOps);

TEST_P(ChannelsLastOps, Eltwise) {
  check_layouts(device(), "relu", {2, 3, 5, 4}, [](const Tensor& x) { return ops::relu(x); });
  check_layouts(device(), "mul_scalar", {2, 3, 5, 4}, [](const Tensor& x) { return ops::mul_scalar(x, -1.7f); });
  Tensor other = dev(randn({2, 3, 5, 4}, 9));
  check_layouts(device(), "add", {2, 3, 5, 4},
                [&](const Tensor& x) { return ops::add(x, other.contiguous(x.memory_format())); });
  check_layouts(device(), "relu 3-D", {2, 5, 7}, [](const Tensor& x) { return ops::relu(x); });
}

TEST_P(ChannelsLastOps, AddMixedFormats) {
  Tensor a0 = randn({3, 4, 3, 5}, 11), b0 = randn({3, 4, 3, 5}, 12);
  const std::vector<float> want = ops::add(a0, b0).to_vector();  // on the host
  for (MemoryFormat fa : {NC, CL})
    for (MemoryFormat fb : {NC, CL}) {
      SCOPED_TRACE("a " + std::to_string(int(fa)) + " b " + std::to_string(int(fb)));
      Tensor a = dparam(a0.contiguous(fa)), b = dparam(b0.contiguous(fb));
      Tensor y = ops::add(a, b);
      EXPECT_TRUE(y.is_contiguous(fa)) << "output takes the first operand's format";
      EXPECT_EQ(y.to_vector(), want);
      Tensor g = randn(y.shape(), 13);
      ops::relu(y).backward(dev(g));
      Tensor mask = ops::relu(ops::add(a0, b0));
      std::vector<float> gv = g.to_vector(), mv = mask.to_vector(), dv(gv.size());
      for (size_t i = 0; i < gv.size(); ++i) dv[i] = mv[i] > 0.f ? gv[i] : 0.f;
      EXPECT_EQ(a.grad().to_vector(), dv);
      EXPECT_EQ(b.grad().to_vector(), dv);
    }
}

// CUDA: cuDNN's average pooling may sum a window in another order per layout (1e-6).
TEST_P(ChannelsLastOps, Pooling) {
  const Shape s{3, 4, 7, 5};
  auto check = [&](const std::string& what, const std::function<Tensor(const Tensor&)>& f, double cuda_rtol) {
    check_layouts(device(), what, s, f, 0, 1, cuda_rtol);
  };
  check("max k3s2p1", [](const Tensor& x) { return ops::max_pool2d(x, 3, 2, 1); }, 0);
  check("max k2s2p0", [](const Tensor& x) { return ops::max_pool2d(x, 2, 2, 0); }, 0);
  check("max k3s3p0", [](const Tensor& x) { return ops::max_pool2d(x, 3, 3, 0); }, 0);
  check("avg k3s2p1", [](const Tensor& x) { return ops::avg_pool2d(x, 3, 2, 1); }, 1e-6);
  check("avg k3s1p0", [](const Tensor& x) { return ops::avg_pool2d(x, 3, 1, 0); }, 1e-6);
  check("avg k3s3p0", [](const Tensor& x) { return ops::avg_pool2d(x, 3, 3, 0); }, 1e-6);
  check("adaptive uniform 7x1", [](const Tensor& x) { return ops::adaptive_avg_pool2d(x, 7, 1); }, 1e-6);
}

// A whole-plane average runs oneDNN's reduction on NCHW but its pooling on NHWC (see
// pool.cpp): another summation order, so the forward agrees to rounding only (seen:
// 1 ulp); the backward (pooling in both) stays bitwise.
TEST_P(ChannelsLastOps, GlobalAveragePool) {
  const Shape s{3, 4, 7, 5};
  check_layouts(device(), "adaptive 1x1", s, [](const Tensor& x) { return ops::adaptive_avg_pool2d(x, 1, 1); }, 1e-6,
                1, 1e-6);
  check_layouts(device(), "avg k5 on 5x5", {2, 3, 5, 5}, [](const Tensor& x) { return ops::avg_pool2d(x, 5, 1, 0); },
                1e-6, 1, 1e-6);
}

// Non-uniform adaptive bins run the plain-loop path; split so that its layout and its
// values are reported separately.
TEST_P(ChannelsLastOps, AdaptiveNonUniformValues) {
  Tensor x0 = randn({3, 4, 7, 5}, 21);
  Tensor xa = dparam(x0), xb = dparam(x0.contiguous(CL));
  Tensor ya = ops::adaptive_avg_pool2d(xa, 3, 2), yb = ops::adaptive_avg_pool2d(xb, 3, 2);
  EXPECT_EQ(ya.to_vector(), yb.to_vector());
  Tensor g = dev(randn(ya.shape(), 22));
  ya.backward(g);
  yb.backward(g);
  EXPECT_EQ(xa.grad().to_vector(), xb.grad().to_vector());
}

TEST_P(ChannelsLastOps, AdaptiveNonUniformKeepsFormat) {
  for (auto [h, w] : {std::pair<int64_t, int64_t>{3, 2}, {3, 3}}) {
    Tensor x = dev(randn({3, 4, 7, 5}, 21).contiguous(CL));
    EXPECT_TRUE(ops::adaptive_avg_pool2d(x, h, w).is_contiguous(CL))
        << "adaptive_avg_pool2d (non-uniform bins " << h << "x" << w << ") returns NCHW for an NHWC input";
  }
}

TEST_P(ChannelsLastOps, ShortcutPad) {
  check_layouts(device(), "shortcut s2 6ch", {3, 2, 5, 4}, [](const Tensor& x) { return ops::shortcut_pad(x, 6, 2); });
  check_layouts(device(), "shortcut s1 4ch", {2, 3, 4, 3}, [](const Tensor& x) { return ops::shortcut_pad(x, 5, 1); });
}

// CPU: the NCHW input is reordered exactly into NHWC and runs the same primitive, so the
// results are bitwise equal and NHWC. CUDA: each output keeps its input's format, and
// cuDNN may pick another algorithm per layout, so they agree within the PyTorch parity
// tolerance of test_conv.cpp (1e-4 relative, 1e-5 of the largest magnitude absolute).
TEST_P(ChannelsLastOps, Conv2dNhwcInputMatchesNchw) {
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
    Tensor xa = dparam(x0), xb = dparam(x0.contiguous(CL));
    Tensor wa = dparam(w0), wb = dparam(w0), ba = dparam(b0), bb = dparam(b0);
    Tensor ya = ops::conv2d(xa, wa, ba, k.p), yb = ops::conv2d(xb, wb, bb, k.p);
    EXPECT_EQ(ya.memory_format(), on_cuda() ? NC : CL);
    EXPECT_EQ(yb.memory_format(), CL);
    Tensor g = randn(ya.shape(), 34);
    ya.backward(dev(g));
    yb.backward(dev(g.contiguous(CL)));
    const std::pair<const char*, std::pair<Tensor, Tensor>> results[] = {
        {"y", {yb, ya}},
        {"dx", {xb.grad(), xa.grad()}},
        {"dw", {wb.grad(), wa.grad()}},
        {"db", {bb.grad(), ba.grad()}}};
    for (const auto& [name, t] : results) {
      if (!on_cuda()) {
        EXPECT_EQ(t.first.to_vector(), t.second.to_vector()) << name;
        continue;
      }
      double max_ref = 0;
      for (float v : t.second.to_vector()) max_ref = std::max(max_ref, double(std::fabs(v)));
      expect_close(std::string(name) + " NHWC vs NCHW", t.first, t.second, 1e-4, 1e-5 * std::max(1.0, max_ref));
    }
  }
}

// conv's dx on the CPU is NHWC, for an NCHW input too (CUDA: the input's format): a probe
// node between the leaf and the conv sees the gradient the conv hands back (the leaf's
// .grad is made row-major).
TEST_P(ChannelsLastOps, Conv2dInputGradientFormat) {
  Tensor x = dparam(randn({2, 3, 6, 5}, 41));
  Tensor seen;
  Tensor probe = record(x.detach(), "probe", {x}, [&seen](const Tensor& g) {
    seen = g;
    return std::vector<Tensor>{g};
  });
  Tensor y = ops::conv2d(probe, dev(randn({4, 3, 3, 3}, 42)), Tensor(), {1, 1, 1, 1});
  EXPECT_EQ(y.memory_format(), on_cuda() ? NC : CL);
  y.backward(dev(randn(y.shape(), 43)));
  ASSERT_TRUE(seen.defined());
  EXPECT_EQ(seen.memory_format(), on_cuda() ? NC : CL);
  EXPECT_EQ(seen.to_vector(), x.grad().to_vector());
}
