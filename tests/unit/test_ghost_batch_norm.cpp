// Ghost batch normalization (BatchNorm's virtual_batch), per device (device_test.h):
// PyTorch parity over 2 training steps and an eval step (tests/parity/ref_ghost_batch_norm.py;
// NCHW, channels-last, and blocked for 32 channels on the CPU), virtual_batch >= N bitwise
// equal to plain BatchNorm, finite-difference gradients, the fused residual/ReLU against
// the separate ops, errors; the printout (host).
#include "device_test.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/eltwise.h"
#include "layers/batch_norm.h"

using namespace nf;
using namespace nf::test;

namespace {

// Mirrors CASES in tests/parity/ref_ghost_batch_norm.py; `format`: the memory format x
// is given in.
void parity(Device d, const std::string& name, bool two_d, int64_t C, int64_t V, std::optional<double> momentum,
            bool affine, MemoryFormat format = MemoryFormat::Contiguous) {
  const double rtol = 1e-5, atol = 1e-5;
  io::TensorDict ref = load_ref("ghost_batch_norm_" + name);
  BatchNormOptions o;
  o.momentum = momentum;
  o.affine = affine;
  o.virtual_batch = V;
  std::shared_ptr<BatchNorm> bn;
  if (two_d) bn = std::make_shared<BatchNorm2d>(C, o);
  else bn = std::make_shared<BatchNorm1d>(C, o);
  bn->to(d);
  if (affine) {
    bn->weight().copy_(ref.at("weight"));
    bn->bias().copy_(ref.at("bias"));
  }
  for (const std::string k : {"0", "1", "e"}) {
    if (k == "e") bn->eval();
    Tensor x = to_device(d, param(ref.at("x" + k).contiguous(format)));
    bn->zero_grad();
    Tensor y = (*bn)(x);
    y.backward(to_device(d, ref.at("gy" + k)));
    expect_close(name + " y" + k, y, ref.at("y" + k), rtol, atol);
    expect_close(name + " dx" + k, x.grad(), ref.at("gx" + k), rtol, atol);
    if (affine) {
      expect_close(name + " dweight" + k, bn->weight().grad(), ref.at("gw" + k), rtol, atol);
      expect_close(name + " dbias" + k, bn->bias().grad(), ref.at("gb" + k), rtol, atol);
    }
    if (k == "e") continue;
    expect_close(name + " running_mean" + k, bn->running_mean(), ref.at("running_mean" + k), rtol, atol);
    expect_close(name + " running_var" + k, bn->running_var(), ref.at("running_var" + k), rtol, atol);
    EXPECT_EQ(bn->num_batches_tracked().to_int_vector(), ref.at("num_batches_tracked" + k).to_int_vector());
  }
}

ops::BatchNormState fresh_state(int64_t C, Device d = Device::cpu()) {
  return {Tensor::zeros({C}, DType::F32, d), Tensor::ones({C}, DType::F32, d), Tensor::zeros({}, DType::I64, d)};
}

// y, dx, dweight, dbias, dresidual, running_mean/var and the count of one training step.
std::vector<Tensor> step(Device d, const Tensor& x0, const Tensor& res0, bool relu, std::optional<int64_t> V,
                         std::optional<double> momentum) {
  const int64_t C = x0.size(1);
  Tensor x = to_device(d, param(x0.clone())), w = to_device(d, param(uniform({C}, 91, 0.5f, 1.5f)));
  Tensor b = to_device(d, param(randn({C}, 92)));
  Tensor res = res0.defined() ? to_device(d, param(res0.clone())) : Tensor();
  ops::BatchNormState s = fresh_state(C, d);
  Tensor y = ops::batch_norm(x, w, b, s, true, momentum, 1e-5, {res, relu}, V);
  y.backward(to_device(d, randn(x0.shape(), 93)));
  return {y, x.grad(), w.grad(), b.grad(), res.defined() ? res.grad() : Tensor(), s.running_mean, s.running_var,
          s.num_batches_tracked};
}

// The formats the device takes: blocked nChw16c is the CPU's alone.
std::vector<MemoryFormat> formats(Device d) {
  if (d.is_cpu()) return {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast, MemoryFormat::Blocked16};
  return {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast};
}

}  // namespace

NF_DEVICE_TEST_SUITE(GhostBatchNormParity);
NF_DEVICE_TEST_SUITE(GhostBatchNormGradcheck);
NF_DEVICE_TEST_SUITE(GhostBatchNorm);

TEST_P(GhostBatchNormParity, Bn2dN8V3) { parity(device(), "bn2d_n8_v3", true, 4, 3, 0.1, true); }
TEST_P(GhostBatchNormParity, Bn2dN7V3CumulativeLastGroupOfOneMerged) {
  parity(device(), "bn2d_n7_v3_cum", true, 4, 3, std::nullopt, true);
}
TEST_P(GhostBatchNormParity, Bn2d32Channels) { parity(device(), "bn2d_32ch_n10_v4", true, 32, 4, 0.1, true); }
TEST_P(GhostBatchNormParity, Bn2d32ChannelsChannelsLast) {
  parity(device(), "bn2d_32ch_n10_v4", true, 32, 4, 0.1, true, MemoryFormat::ChannelsLast);
}
TEST(GhostBatchNormParityCpu, Bn2d32ChannelsBlocked) {
  parity(Device::cpu(), "bn2d_32ch_n10_v4", true, 32, 4, 0.1, true, MemoryFormat::Blocked16);
}
TEST_P(GhostBatchNormParity, Bn1dN9V4) { parity(device(), "bn1d_n9_v4", false, 6, 4, 0.3, true); }
TEST_P(GhostBatchNormParity, Bn1d3dN6V2NoAffine) {
  parity(device(), "bn1d_3d_n6_v2_noaffine", false, 5, 2, 0.1, false);
}

// One group (V >= N) is plain batch_norm, bit for bit: values, gradients, statistics;
// NCHW, channels-last and (CPU) blocked inputs, with and without the fused residual and ReLU.
TEST_P(GhostBatchNorm, VirtualBatchAtLeastNIsPlainBatchNormBitwise) {
  for (MemoryFormat f : formats(device()))
    for (bool fused : {false, true})
      for (std::optional<double> m : {std::optional<double>(0.1), std::optional<double>()}) {
        const Tensor x = randn({6, 32, 5, 3}, 94, 2.f).contiguous(f);
        const Tensor res = fused ? randn({6, 32, 5, 3}, 95).contiguous(f) : Tensor();
        const std::vector<Tensor> plain = step(device(), x, res, fused, std::nullopt, m);
        for (int64_t V : {6, 10}) {
          const std::vector<Tensor> ghost = step(device(), x, res, fused, V, m);
          for (size_t i = 0; i < plain.size(); ++i)
            if (plain[i].defined())
              expect_bitwise_equal("V=" + std::to_string(V) + " output " + std::to_string(i), ghost[i], plain[i]);
        }
      }
}

TEST_P(GhostBatchNormGradcheck, Groups) {
  struct Case {
    Shape shape;
    int64_t V;
  };
  for (const Case& c : {Case{{5, 3, 2, 2}, 2}, Case{{7, 4}, 3}, Case{{5, 3, 4}, 3}})
    for (Affine a : {Affine::Learn, Affine::None}) {
      const int64_t C = c.shape[1];
      Tensor x = param(randn(c.shape, 96, 1.5f));
      const AffineParams p = affine_params(C, a, 97);
      ops::BatchNormState s = fresh_state(C, device());
      gradcheck("ghost " + shape_str(c.shape) + " V=" + std::to_string(c.V) + " " + affine_tag(a),
                [&](const std::vector<Tensor>& in) {
                  return ops::batch_norm(in[0], in[1], in[2], s, true, 0.1, 1e-5, {}, c.V);
                },
                {x, p.weight, p.bias});
    }
}

// The fused bn -> add -> relu with groups equals ghost bn, then add, then relu.
TEST_P(GhostBatchNorm, FusedResidualReluMatchesSeparateOps) {
  for (MemoryFormat f : formats(device())) {
    const Tensor x0 = randn({7, 16, 3, 3}, 98, 2.f).contiguous(f), r0 = randn({7, 16, 3, 3}, 99).contiguous(f);
    const std::vector<Tensor> fused = step(device(), x0, r0, true, 3, 0.1);
    Tensor x = dparam(x0.clone()), w = dparam(uniform({16}, 91, 0.5f, 1.5f)), b = dparam(randn({16}, 92));
    Tensor r = dparam(r0.clone());
    ops::BatchNormState s = fresh_state(16, device());
    Tensor y = ops::relu(ops::add(ops::batch_norm(x, w, b, s, true, 0.1, 1e-5, {}, 3), r));
    y.backward(dev(randn(x0.shape(), 93)));
    const std::vector<Tensor> separate{y, x.grad(), w.grad(), b.grad(), r.grad(), s.running_mean, s.running_var};
    const char* names[] = {"y", "dx", "dweight", "dbias", "dresidual", "running_mean", "running_var"};
    for (size_t i = 0; i < separate.size(); ++i) expect_close(names[i], fused[i], separate[i], 1e-6, 1e-6);
  }
}

// Evaluation uses the running statistics: virtual_batch changes nothing there.
TEST_P(GhostBatchNorm, EvalIgnoresVirtualBatch) {
  BatchNormOptions o;
  o.virtual_batch = 2;
  BatchNorm2d ghost(4, o), plain(4);
  for (BatchNorm* bn : {static_cast<BatchNorm*>(&ghost), static_cast<BatchNorm*>(&plain)}) {
    bn->to(device());
    bn->running_mean().copy_(randn({4}, 100));
    bn->running_var().copy_(uniform({4}, 101, 0.5f, 2.f));
    bn->eval();
  }
  const Tensor x = dev(randn({5, 4, 3, 3}, 102));
  expect_bitwise_equal("eval output", ghost(x), plain(x));
}

TEST_P(GhostBatchNorm, BadVirtualBatchIsAnError) {
  for (int64_t V : {1, 0, -3}) {
    BatchNormOptions o;
    o.virtual_batch = V;
    try {
      BatchNorm2d bn(4, o);
      FAIL() << "no error for virtual_batch " << V;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()),
                "batch_norm: virtual_batch must be at least 2 (a group of one sample has no variance), got " +
                    std::to_string(V));
    }
    ops::BatchNormState s = fresh_state(4, device());
    EXPECT_THROW(ops::batch_norm(dev(randn({4, 4}, 103)), Tensor(), Tensor(), s, true, 0.1, 1e-5, {}, V), Error);
  }
  ops::BatchNormState s = fresh_state(4, device());
  try {
    ops::batch_norm(dev(randn({4, 4}, 104)), Tensor(), Tensor(), s, true, 1.5, 1e-5, {}, 2);
    FAIL() << "no error for momentum 1.5 with groups";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "batch_norm: virtual_batch needs a momentum in [0, 1], got 1.500000");
  }
  EXPECT_EQ(s.num_batches_tracked.item(), 0);  // nothing updated
}

TEST(GhostBatchNormLayer, PrintoutShowsVirtualBatchOnlyWhenSet) {
  BatchNormOptions o;
  o.virtual_batch = 8;
  EXPECT_EQ(BatchNorm2d(16, o).repr(),
            "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, virtual_batch=8)");
  EXPECT_EQ(BatchNorm1d(16).repr(),
            "BatchNorm1d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(BatchNorm2d(16, o).options().virtual_batch, 8);
}
