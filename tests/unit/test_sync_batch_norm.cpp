// SyncBatchNorm (ops::sync_batch_norm) in one process, where the group is this process
// alone, per device (device_test.h): finite-difference gradients (with the fused residual
// add), and, with the fused add and ReLU ([6, 5, 4, 3] NCHW and NHWC, [7, 5]), the same
// outputs, gradients and running statistics as ops::batch_norm (to float rounding). The
// rank combination is tested on 2 ranks by tests/cli/dist_sync_bn.sh.
#include "device_test.h"
#include "framework/distributed/process_group.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/sync_batch_norm.h"

using namespace nf;
using namespace nf::test;

namespace {

ops::BatchNormState state(int64_t C, uint64_t seed, Device d) {
  return {uniform({C}, seed, -0.5f, 0.5f).to(d), uniform({C}, seed + 1, 0.5f, 2.f).to(d),
          Tensor::zeros({}, DType::I64, d)};
}

}  // namespace

NF_DEVICE_TEST_SUITE(SyncBatchNorm);

TEST_P(SyncBatchNorm, GradcheckWithResidual) {  // no ReLU: finite differences across its kink mislead
  ASSERT_FALSE(dist::world().distributed());
  const Shape s = {4, 3, 5, 3};
  ops::BatchNormState st = state(3, 1, device());
  const AffineParams a = affine_params(3, Affine::Learn, 2);
  gradcheck("sync_batch_norm +res", [&](const std::vector<Tensor>& in) {
    return ops::sync_batch_norm(in[0], in[1], in[2], st, 0.1, 1e-5, {in[3], false}, dist::world());
  }, {param(randn(s, 3, 1.5f)), a.weight, a.bias, param(randn(s, 4))});
}

TEST_P(SyncBatchNorm, OneRankIsBatchNorm) {
  for (const Shape& s : {Shape{6, 5, 4, 3}, Shape{7, 5}})
    for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
      for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
        if (s.size() == 2 && f == MemoryFormat::ChannelsLast) continue;  // the same layout for [N, C]
        const Tensor x0 = randn(s, 5, 2.f).contiguous(f), res0 = randn(s, 6).contiguous(f), g = randn(s, 7);
        const AffineParams a0 = affine_params(5, Affine::Learn, 8);
        struct Out {
          Tensor y, dx, dw, db, dres;
          ops::BatchNormState st;
        };
        auto run = [&](bool sync) {
          Out o;
          o.st = state(5, 9, device());
          Tensor x = dparam(x0.clone()), res = dparam(res0.clone()), w = dparam(a0.weight.clone());
          Tensor b = dparam(a0.bias.clone());
          for (int step = 0; step < 2; ++step) {  // two steps: the running statistics blend twice
            o.y = sync ? ops::sync_batch_norm(x, w, b, o.st, momentum, 1e-5, {res, true}, dist::world())
                       : ops::batch_norm(x, w, b, o.st, true, momentum, 1e-5, {res, true});
          }
          o.y.backward(dev(g.contiguous(o.y.memory_format())));
          o.dx = x.grad(), o.dw = w.grad(), o.db = b.grad(), o.dres = res.grad();
          return o;
        };
        const Out want = run(false), got = run(true);
        const std::string what = shape_str(s) + (f == MemoryFormat::Contiguous ? " NCHW" : " NHWC") +
                                 (momentum ? " m=0.1" : " cumulative");
        expect_close(what + " y", got.y, want.y, 1e-6, 1e-6);
        expect_close(what + " dx", got.dx, want.dx, 1e-5, 1e-6);
        expect_close(what + " dweight", got.dw, want.dw, 1e-5, 1e-6);
        expect_close(what + " dbias", got.db, want.db, 1e-5, 1e-6);
        expect_close(what + " dresidual", got.dres, want.dres, 1e-6, 1e-6);
        expect_close(what + " running_mean", got.st.running_mean, want.st.running_mean, 1e-6, 1e-7);
        expect_close(what + " running_var", got.st.running_var, want.st.running_var, 1e-6, 1e-7);
        EXPECT_EQ(got.st.num_batches_tracked.item(), 2);
      }
}
