// The blocked (nChw16c) memory format and the Winograd convolutions that produce it:
// conversions are exact, every op that takes a blocked tensor gives what it gives on the
// same values channels-last, and Winograd convolutions match direct ones forward and
// backward within float rounding.
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/conv.h"
#include "framework/ops/eltwise.h"
#include "framework/ops/pool.h"
#include "framework/ops/shortcut.h"
#include "test_util.h"

namespace nf {
namespace {

using test::expect_bitwise_equal;
using test::expect_close;
using test::randn;

Tensor blocked(const Tensor& t) { return t.contiguous(MemoryFormat::Blocked16); }

TEST(BlockedFormat, ConversionsAreExactBothWays) {
  Tensor x = randn({3, 32, 5, 7}, 1);
  Tensor b = blocked(x);
  EXPECT_EQ(b.memory_format(), MemoryFormat::Blocked16);
  EXPECT_FALSE(b.is_dense());
  // Element (n, c, h, w) sits at ((n * C/16 + c/16) * H*W + h*W + w) * 16 + c % 16.
  const float* pb = b.data<float>();
  const float* px = x.data<float>();
  EXPECT_EQ(pb[((1 * 2 + 1) * 35 + 2 * 7 + 3) * 16 + 5], px[((1 * 32 + 21) * 5 + 2) * 7 + 3]);
  expect_bitwise_equal("blocked -> NCHW", b.contiguous(), x);
  expect_bitwise_equal("blocked -> NHWC -> NCHW", b.contiguous(MemoryFormat::ChannelsLast).contiguous(), x);
  expect_bitwise_equal("NHWC -> blocked", blocked(x.contiguous(MemoryFormat::ChannelsLast)).contiguous(), x);
  Tensor c = Tensor::empty(x.shape(), DType::F32, Device::cpu(), MemoryFormat::Blocked16);
  c.copy_(x);
  expect_bitwise_equal("copy_ into blocked", c.contiguous(), x);
  expect_bitwise_equal("clone of blocked", b.clone().contiguous(), x);
  EXPECT_EQ(b.clone().memory_format(), MemoryFormat::Blocked16);
}

TEST(BlockedFormat, RejectsWhatCannotBeBlocked) {
  EXPECT_THROW(Tensor::empty({2, 24, 4, 4}, DType::F32, Device::cpu(), MemoryFormat::Blocked16), Error);
  EXPECT_THROW(Tensor::empty({2, 32}, DType::F32, Device::cpu(), MemoryFormat::Blocked16), Error);
  EXPECT_THROW(blocked(randn({2, 32, 4, 4}, 2)).view({2, -1}), Error);
}

// BatchNorm in training with the fused residual add and ReLU, blocked against
// channels-last: same outputs, running statistics and gradients.
TEST(BlockedFormat, BatchNormMatchesChannelsLast) {
  const Shape s{4, 32, 6, 5};
  Tensor x0 = randn(s, 3, 2.f), r0 = randn(s, 4), w0 = randn({32}, 5), b0 = randn({32}, 6), gy = randn(s, 7);
  auto run = [&](MemoryFormat f, Tensor& y, std::vector<Tensor>& grads, ops::BatchNormState& st) {
    Tensor x = test::param(x0).contiguous(f), r = test::param(r0).contiguous(f);
    Tensor w = test::param(w0), b = test::param(b0);
    // contiguous() of a leaf is not a leaf: take gradients at the converted tensors.
    x = x.detach().set_requires_grad(true);
    r = r.detach().set_requires_grad(true);
    y = ops::batch_norm(x, w, b, st, true, 0.1, 1e-5, {r, true});
    y.backward(gy.contiguous(f));
    grads = {x.grad(), r.grad(), w.grad(), b.grad()};
  };
  auto state = [] {
    return ops::BatchNormState{Tensor::zeros({32}), Tensor::ones({32}), Tensor::zeros({}, DType::I64)};
  };
  ops::BatchNormState sc = state(), sb = state();
  Tensor yc, yb;
  std::vector<Tensor> gc, gb;
  run(MemoryFormat::ChannelsLast, yc, gc, sc);
  run(MemoryFormat::Blocked16, yb, gb, sb);
  EXPECT_EQ(yb.memory_format(), MemoryFormat::Blocked16);
  expect_close("bn y", yb, yc, 1e-6);
  expect_close("bn running_mean", sb.running_mean, sc.running_mean, 1e-6);
  expect_close("bn running_var", sb.running_var, sc.running_var, 1e-6);
  const char* names[] = {"bn dx", "bn dresidual", "bn dweight", "bn dbias"};
  for (int i = 0; i < 4; ++i) expect_close(names[i], gb[i], gc[i], 1e-5, 1e-6);
}

TEST(BlockedFormat, AddPoolAndShortcutMatchChannelsLast) {
  Tensor a = randn({2, 32, 8, 8}, 8), b = randn({2, 32, 8, 8}, 9);
  auto cl = [](const Tensor& t) { return t.contiguous(MemoryFormat::ChannelsLast); };
  Tensor sum = ops::add(blocked(a), cl(b));
  EXPECT_EQ(sum.memory_format(), MemoryFormat::Blocked16);
  expect_close("add", sum, ops::add(a, b), 0);
  expect_close("max_pool2d", ops::max_pool2d(blocked(a), 3, 2, 1), ops::max_pool2d(cl(a), 3, 2, 1), 0);
  expect_close("global avg pool", ops::adaptive_avg_pool2d(blocked(a), 1, 1), ops::adaptive_avg_pool2d(a, 1, 1),
               1e-6);
  Tensor xs = test::param(randn({2, 16, 8, 8}, 10)).contiguous(MemoryFormat::Blocked16);
  xs = xs.detach().set_requires_grad(true);
  Tensor ys = ops::shortcut_pad(xs, 32, 2);
  EXPECT_EQ(ys.memory_format(), MemoryFormat::Blocked16);
  Tensor x_ref = randn({2, 16, 8, 8}, 10).set_requires_grad(true);
  Tensor y_ref = ops::shortcut_pad(x_ref, 32, 2);
  expect_close("shortcut_pad", ys, y_ref, 0);
  Tensor g = randn(y_ref.shape(), 11);
  ys.backward(blocked(g));
  y_ref.backward(g);
  expect_close("shortcut_pad dx", xs.grad(), x_ref.grad(), 0);
}

// 3x3 stride-1 convolutions forward and backward under Winograd (blocked activations)
// against direct (channels-last): equal up to Winograd's float rounding. The shapes of
// ResNet-20's three stages (the 16-channel one stays direct), and channel counts that
// differ.
TEST(BlockedFormat, WinogradConvolutionMatchesDirect) {
  const ops::Conv2dParams p{1, 1, 1, 1, 1, 1, 1};
  struct Case {
    int64_t n, c, o, hw;
  };
  for (const Case& k : {Case{4, 32, 48, 12}, Case{8, 16, 16, 32}, Case{8, 32, 32, 16}, Case{8, 64, 64, 8}}) {
    const std::string name = std::to_string(k.c) + "->" + std::to_string(k.o) + " " + std::to_string(k.hw) + "px";
    Tensor x0 = randn({k.n, k.c, k.hw, k.hw}, 12), w0 = randn({k.o, k.c, 3, 3}, 13, 0.1f);
    Tensor gy0 = randn({k.n, k.o, k.hw, k.hw}, 14);
    auto run = [&](ops::CpuConvAlgorithm a, std::vector<Tensor>& out) {
      test::ConvAlgorithmScope scope(a);
      Tensor x = test::param(x0), w = test::param(w0);
      Tensor y = ops::conv2d(x, w, Tensor(), p);
      y.backward(gy0);
      out = {y, x.grad(), w.grad()};
    };
    std::vector<Tensor> direct, wino;
    run(ops::CpuConvAlgorithm::Direct, direct);
    run(ops::CpuConvAlgorithm::Winograd, wino);
    EXPECT_EQ(direct[0].memory_format(), MemoryFormat::ChannelsLast);
    // Fewer than 32 channels stay channels-last (and direct) under Winograd too, and
    // without AVX-512 kernels everything does.
    EXPECT_EQ(wino[0].memory_format(), k.o >= 32 && cpu::avx512_kernels() ? MemoryFormat::Blocked16
                                                                         : MemoryFormat::ChannelsLast);
    const char* names[] = {" y", " dx", " dw"};
    for (int i = 0; i < 3; ++i) expect_close("winograd " + name + names[i], wino[i], direct[i], 1e-3, 1e-4);
  }
}

}  // namespace
}  // namespace nf
