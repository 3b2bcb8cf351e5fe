// Batch norm with the fused residual add and ReLU (ops::BatchNormFusion), per device
// (device_test.h; the CPU writes channels-last, CUDA keeps the input's format): on an odd
// [3, 5, 4, 3] input, in train (batch statistics) and eval (running statistics) mode,
// relu?(bn(x) + residual?) in one op equals the separate ops batch_norm -> add -> relu
// (forward within 1e-6 relative, gradients of x, weight, bias and residual within 1e-5
// under a random upstream gradient) and leaves the same running statistics; variants
// {residual+relu, relu only, residual only, residual without gradient}; NCHW and NHWC
// inputs give bitwise the same results; finite-difference gradient check of the fused
// op (residual shifted so that no pre-activation is within 0.1 of the ReLU's kink);
// the layer's forward_fused; BN1d on [N, C] and [N, C, L] with fusion off.
#include <cmath>
#include <cstdio>

#include "device_test.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/eltwise.h"
#include "layers/batch_norm.h"

using namespace nf;
using namespace nf::test;

namespace {

constexpr MemoryFormat NC = MemoryFormat::Contiguous, CL = MemoryFormat::ChannelsLast;
const Shape kShape{3, 5, 4, 3};
constexpr double kEps = 1e-5, kMomentum = 0.1;

ops::BatchNormState random_state(int64_t C, uint64_t seed, Device d = Device::cpu()) {
  return {uniform({C}, seed, -0.5f, 0.5f).to(d), uniform({C}, seed + 1, 0.5f, 2.f).to(d),
          Tensor::full({}, 3, DType::I64, d)};
}
ops::BatchNormState clone_state(const ops::BatchNormState& s) {
  return {s.running_mean.clone(), s.running_var.clone(), s.num_batches_tracked.clone()};
}

struct Variant {
  const char* name;
  bool residual, relu, residual_grad;
};
const Variant kVariants[] = {{"residual+relu", true, true, true},
                             {"relu only", false, true, false},
                             {"residual only", true, false, true},
                             {"frozen residual+relu", true, true, false}};

// One forward + backward, fused or through the separate ops, with inputs in format f.
struct Result {
  Tensor y, dx, dw, db, dr;
  ops::BatchNormState s;
};
Result run(Device d, bool fused, bool train, const Variant& v, MemoryFormat fx = NC, MemoryFormat fr = NC,
           const Shape& shape = kShape) {
  const int64_t C = shape[1];
  Tensor x = to_device(d, param(randn(shape, 1, 1.5f).contiguous(fx)));
  Tensor w = to_device(d, param(uniform({C}, 2, 0.5f, 1.5f))), b = to_device(d, param(randn({C}, 3)));
  Tensor r;
  if (v.residual) {
    r = randn(shape, 4).contiguous(fr);
    if (v.residual_grad) r = param(r);
    r = to_device(d, r);
  }
  Result out{Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), random_state(C, 5, d)};
  if (fused) {
    out.y = ops::batch_norm(x, w, b, out.s, train, kMomentum, kEps, {r, v.relu});
  } else {
    out.y = ops::batch_norm(x, w, b, out.s, train, kMomentum, kEps);
    if (v.residual) out.y = ops::add(out.y, r);
    if (v.relu) out.y = ops::relu(out.y);
  }
  out.y.backward(to_device(d, randn(shape, 6)));
  out.dx = x.grad(), out.dw = w.grad(), out.db = b.grad();
  if (v.residual_grad) out.dr = r.grad();
  return out;
}

void expect_same_state(const std::string& what, const ops::BatchNormState& a, const ops::BatchNormState& b) {
  expect_bitwise_equal(what + " running_mean", a.running_mean, b.running_mean);
  expect_bitwise_equal(what + " running_var", a.running_var, b.running_var);
  expect_bitwise_equal(what + " num_batches_tracked", a.num_batches_tracked, b.num_batches_tracked);
}

// The CPU's normalizations write channels-last; CUDA's keep the input's format.
MemoryFormat output_format(Device d, MemoryFormat input) { return d.is_cpu() ? CL : input; }

void compare_fused_to_separate(Device d, bool train) {
  const std::string mode = train ? "train " : "eval ";
  for (const Variant& v : kVariants) {
    const std::string what = mode + v.name;
    SCOPED_TRACE(what);
    Result f = run(d, true, train, v), s = run(d, false, train, v);
    EXPECT_TRUE(f.y.is_contiguous(output_format(d, NC))) << "fused output format";
    expect_close(what + " y", f.y, s.y, 1e-6, 1e-6);
    expect_close(what + " dx", f.dx, s.dx, 1e-5, 1e-5);
    expect_close(what + " dweight", f.dw, s.dw, 1e-5, 1e-5);
    expect_close(what + " dbias", f.db, s.db, 1e-5, 1e-5);
    if (v.residual_grad) expect_close(what + " dresidual", f.dr, s.dr, 1e-5, 1e-5);
    expect_same_state(what, f.s, s.s);
    if (!train) expect_same_state(what + " (unchanged)", f.s, random_state(kShape[1], 5, d));
  }
}

// A residual that keeps every pre-activation bn(x) + r at least 0.1 away from 0.
Tensor residual_off_kink(const Tensor& x, const Tensor& w, const Tensor& b, const ops::BatchNormState& s0,
                         bool train) {
  NoGradGuard ng;
  ops::BatchNormState s = clone_state(s0);
  std::vector<float> bn = ops::batch_norm(x, w, b, s, train, kMomentum, kEps).to_vector();
  std::vector<float> r = randn(x.shape(), 7).to_vector();
  int moved = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const float pre = bn[i] + r[i];
    if (std::fabs(pre) < 0.1f) r[i] += pre >= 0.f ? 0.2f : -0.2f, ++moved;
  }
  std::printf("[bn fusion] moved %d of %zu residual values off the kink\n", moved, r.size());
  return Tensor::from_vector(r, x.shape());
}

}  // namespace

NF_DEVICE_TEST_SUITE(BatchNormFusion);

TEST_P(BatchNormFusion, TrainMatchesSeparateOps) { compare_fused_to_separate(device(), true); }
TEST_P(BatchNormFusion, EvalMatchesSeparateOps) { compare_fused_to_separate(device(), false); }

TEST_P(BatchNormFusion, RunningStatisticsAfterTrainForward) {
  // Fused and separate forward must both perform exactly one PyTorch update.
  Result f = run(device(), true, true, kVariants[0]), s = run(device(), false, true, kVariants[0]);
  ops::BatchNormState init = random_state(kShape[1], 5);
  EXPECT_EQ(f.s.num_batches_tracked.item(), init.num_batches_tracked.item() + 1);
  EXPECT_NE(f.s.running_mean.to_vector(), init.running_mean.to_vector());
  expect_same_state("fused vs separate", f.s, s.s);
}

TEST_P(BatchNormFusion, NhwcAndNchwInputsGiveBitwiseSameResults) {
  for (bool train : {true, false})
    for (const Variant& v : kVariants) {
      const std::string what = std::string(train ? "train " : "eval ") + v.name;
      SCOPED_TRACE(what);
      Result a = run(device(), true, train, v, NC, NC);
      for (auto [fx, fr] : {std::pair{CL, CL}, std::pair{CL, NC}, std::pair{NC, CL}}) {
        Result b = run(device(), true, train, v, fx, fr);
        EXPECT_TRUE(b.y.is_contiguous(output_format(device(), fx)));
        expect_bitwise_equal(what + " y", a.y, b.y);
        expect_bitwise_equal(what + " dx", a.dx, b.dx);
        expect_bitwise_equal(what + " dweight", a.dw, b.dw);
        expect_bitwise_equal(what + " dbias", a.db, b.db);
        if (v.residual_grad) expect_bitwise_equal(what + " dresidual", a.dr, b.dr);
        expect_same_state(what, a.s, b.s);
      }
    }
}

TEST_P(BatchNormFusion, Gradcheck) {
  for (bool train : {true, false}) {
    const int64_t C = kShape[1];
    Tensor x = param(randn(kShape, 11, 1.5f));
    Tensor w = param(uniform({C}, 12, 0.5f, 1.5f)), b = param(randn({C}, 13));
    Tensor r = param(residual_off_kink(x, w, b, random_state(C, 14), train));  // on the host
    ops::BatchNormState s = random_state(C, 14, device());
    // Every pre-activation is >= 0.1 from 0, and a step of 1e-2 in any input moves
    // them by far less: no central difference straddles the ReLU's kink.
    gradcheck(std::string(train ? "train" : "eval") + " fused residual+relu",
              [&](const std::vector<Tensor>& in) {
                return ops::batch_norm(in[0], in[1], in[2], s, train, kMomentum, kEps, {in[3], true});
              },
              {x, w, b, r});
    gradcheck(std::string(train ? "train" : "eval") + " fused residual",
              [&](const std::vector<Tensor>& in) {
                return ops::batch_norm(in[0], in[1], in[2], s, train, kMomentum, kEps, {in[3], false});
              },
              {x, w, b, r});
  }
}

TEST_P(BatchNormFusion, LayerForwardFused) {
  BatchNorm2d fused(5), plain(5);
  for (BatchNorm2d* bn : {&fused, &plain}) {
    bn->to(device());
    bn->weight().copy_(uniform({5}, 21, 0.5f, 1.5f));
    bn->bias().copy_(randn({5}, 22));
  }
  Tensor r = dev(randn(kShape, 23));
  for (int step = 0; step < 3; ++step) {  // train steps, then eval
    Tensor x = dev(randn(kShape, 30 + step, 2.f));
    expect_close("train step " + std::to_string(step), fused.forward_fused(x, r, true),
                 ops::relu(ops::add(plain(x), r)), 1e-6, 1e-6);
  }
  expect_same_state("layer", {fused.running_mean(), fused.running_var(), fused.num_batches_tracked()},
                    {plain.running_mean(), plain.running_var(), plain.num_batches_tracked()});
  EXPECT_EQ(fused.num_batches_tracked().item(), 3);
  fused.eval(), plain.eval();
  Tensor x = dev(randn(kShape, 40));
  expect_close("eval", fused.forward_fused(x, r, true), ops::relu(ops::add(plain(x), r)), 1e-6, 1e-6);
  expect_close("eval relu only", fused.forward_fused(x, Tensor(), true), ops::relu(plain(x)), 1e-6, 1e-6);
}

// BN1d without fusion: [N, C] and [N, C, L] equal the 4-D op on [N, C, 1, 1] / [N, C, L, 1]
// (the same [M, C] rows) and a float64 reference; on the CPU the [N, C, L] output is
// [N, L, C] in memory (CUDA keeps the input's layout).
TEST_P(BatchNormFusion, Bn1dWithoutFusion) {
  for (const Shape& shape : {Shape{6, 4}, Shape{3, 4, 5}}) {
    const std::string what = "BN1d " + shape_str(shape);
    SCOPED_TRACE(what);
    const int64_t N = shape[0], C = shape[1], L = shape.size() == 3 ? shape[2] : 1;
    BatchNorm1d bn(C);
    bn.to(device());
    bn.weight().copy_(uniform({C}, 51, 0.5f, 1.5f));
    bn.bias().copy_(randn({C}, 52));
    Tensor x = dparam(randn(shape, 53, 2.f));
    Tensor y = bn(x);
    ASSERT_EQ(y.shape(), shape);
    EXPECT_TRUE(y.is_contiguous(output_format(device(), NC)));
    // float64 reference, x laid out [N, C, L].
    std::vector<float> xv = x.to_vector(), yv = y.to_vector(), wv = bn.weight().to_vector(), bv = bn.bias().to_vector();
    std::vector<float> want(xv.size());
    for (int64_t c = 0; c < C; ++c) {
      double m = 0, v = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < L; ++l) m += xv[(n * C + c) * L + l];
      m /= N * L;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < L; ++l) v += std::pow(xv[(n * C + c) * L + l] - m, 2);
      v /= N * L;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < L; ++l) {
          const size_t i = (n * C + c) * L + l;
          want[i] = static_cast<float>((xv[i] - m) / std::sqrt(v + kEps) * wv[c] + bv[c]);
        }
    }
    expect_close(what + " vs float64", y, Tensor::from_vector(want, shape), 1e-5, 1e-5);
    ops::BatchNormState s{dev(Tensor::zeros({C})), dev(Tensor::ones({C})), Tensor::zeros({}, DType::I64, device())};
    Tensor y4 = ops::batch_norm(x.detach().view({N, C, L, 1}), bn.weight().detach(), bn.bias().detach(), s, true,
                                kMomentum, kEps);
    EXPECT_EQ(y4.to_vector(), yv) << "same as the 4-D op on [N, C, L, 1]";
    expect_bitwise_equal(what + " running_mean", s.running_mean, bn.running_mean());
    expect_bitwise_equal(what + " running_var", s.running_var, bn.running_var());
    y.backward(dev(randn(shape, 54)));
    EXPECT_TRUE(x.grad().defined() && bn.weight().grad().defined() && bn.bias().grad().defined());
    ops::BatchNormState s2 = random_state(C, 55, device());
    gradcheck(what, [&](const std::vector<Tensor>& in) {
      return ops::batch_norm(in[0], in[1], in[2], s2, true, kMomentum, kEps);
    }, {param(randn(shape, 56)), param(uniform({C}, 57, 0.5f, 1.5f)), param(randn({C}, 58))});
  }
}
