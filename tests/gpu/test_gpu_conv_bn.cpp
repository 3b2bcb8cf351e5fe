// CUDA against CPU: conv2d (forward, dx, dw, db) over stride/padding/1x1/groups/
// dilation/bias configurations, conv2d_inference with its residual+relu epilogue, and
// batch_norm (train and eval statistics, affine on/off, momentum 0.1 and cumulative,
// fused relu and residual+relu, 2-, 3- and 4-d inputs), each with NCHW and NHWC inputs;
// BN running statistics after 3 training steps; ghost batch norm (virtual_batch);
// SyncBatchNorm's CUDA halves (one process: the group of one) against the CPU's
// batch_norm. Odd shapes throughout.
#include <optional>

#include "framework/distributed/process_group.h"
#include "framework/ops/batch_norm.h"
#include "framework/ops/sync_batch_norm.h"
#include "framework/ops/conv.h"
#include "gpu_test_util.h"

using namespace nf;
using namespace nf::gpu_test;

namespace {

const MemoryFormat kFormats[] = {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast};

struct ConvCase {
  const char* name;
  int64_t C, O, KH, KW;
  ops::Conv2dParams p;
  bool bias;
};

// N=3, H=7, W=6 for every case.
const ConvCase kConvCases[] = {
    {"3x3_pad1_stride1_bias", 5, 7, 3, 3, {.pad_h = 1, .pad_w = 1}, true},
    {"3x3_pad1_stride1_nobias", 5, 7, 3, 3, {.pad_h = 1, .pad_w = 1}, false},
    {"3x3_pad1_stride2", 5, 7, 3, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, false},
    {"3x3_pad0_bias", 5, 4, 3, 3, {}, true},
    {"1x1", 5, 9, 1, 1, {}, false},
    {"1x1_stride2_bias", 5, 9, 1, 1, {.stride_h = 2, .stride_w = 2}, true},
    {"3x3_groups2_bias", 6, 4, 3, 3, {.pad_h = 1, .pad_w = 1, .groups = 2}, true},
    {"3x3_dilation2", 5, 7, 3, 3, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}, false},
    {"5x3_stride2x1_pad2x1_bias", 5, 3, 5, 3, {.stride_h = 2, .stride_w = 1, .pad_h = 2, .pad_w = 1}, true},
};

}  // namespace

TEST(GpuConv, ForwardAndGradientsMatchCpu) {
  NF_REQUIRE_GPU();
  for (const ConvCase& c : kConvCases)
    for (MemoryFormat f : kFormats) {
      SCOPED_TRACE(c.name);
      Tensor x = leaf(image({3, c.C, 7, 6}, 1, f));
      Tensor w = leaf(randn({c.O, c.C / c.p.groups, c.KH, c.KW}, 2, 0.3f));
      Tensor b = c.bias ? leaf(randn({c.O}, 3)) : Tensor();
      const ops::Conv2dParams p = c.p;
      check_op(std::string("conv2d ") + c.name + " " + fmt_name(f), {x, w, b},
               [p](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], p); }, {f});
    }
}

TEST(GpuConv, InputGradientOnlyAndWeightGradientOnly) {
  NF_REQUIRE_GPU();
  const ops::Conv2dParams p{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  for (MemoryFormat f : kFormats) {
    Tensor x = image({3, 5, 7, 6}, 4, f), w = randn({7, 5, 3, 3}, 5, 0.3f);
    auto conv = [p](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], Tensor(), p); };
    check_op(std::string("conv2d dx only ") + fmt_name(f), {leaf(x.clone()), w}, conv, {f});
    check_op(std::string("conv2d dw only ") + fmt_name(f), {x, leaf(w.clone())}, conv, {f});
  }
}

TEST(GpuConv, InferenceWithResidualAndReluMatchesCpu) {
  NF_REQUIRE_GPU();
  NoGradGuard no_grad;
  const ops::Conv2dParams p{.pad_h = 1, .pad_w = 1};
  for (MemoryFormat f : kFormats)
    for (bool with_residual : {false, true})
      for (bool relu : {false, true})
        for (bool bias : {false, true}) {
          Tensor x = image({3, 5, 7, 6}, 6, f), w = randn({7, 5, 3, 3}, 7, 0.3f);
          Tensor b = bias ? randn({7}, 8) : Tensor();
          Tensor res = with_residual ? image({3, 7, 7, 6}, 9, f) : Tensor();
          const std::string what = std::string("conv2d_inference ") + fmt_name(f) + (with_residual ? " +res" : "") +
                                   (relu ? " relu" : "") + (bias ? " bias" : "");
          check_op(what, {x, w, b, res}, [p, relu](const std::vector<Tensor>& in) {
            return ops::conv2d_inference(in[0], in[1], in[2], p, in[3], relu);
          }, {f});
        }
}

namespace {

ops::BatchNormState bn_state(int64_t C, uint64_t seed, Device d) {
  return {uniform({C}, seed, -0.5f, 0.5f).to(d), uniform({C}, seed + 1, 0.5f, 2.f).to(d),
          Tensor::full({}, 2, DType::I64, d)};
}

void expect_same_state(const std::string& what, const ops::BatchNormState& g, const ops::BatchNormState& c) {
  expect_close(what + " running_mean", g.running_mean, c.running_mean);
  expect_close(what + " running_var", g.running_var, c.running_var);
  EXPECT_EQ(g.num_batches_tracked.to_int_vector(), c.num_batches_tracked.to_int_vector()) << what;
}

enum class Fuse { None, Relu, ResidualRelu };
const char* fuse_name(Fuse f) { return f == Fuse::None ? "" : f == Fuse::Relu ? " relu" : " +res relu"; }

}  // namespace

TEST(GpuBatchNorm, ForwardGradientsAndStateMatchCpu) {
  NF_REQUIRE_GPU();
  const Shape shapes[] = {{3, 5, 7, 6}, {7, 5}, {3, 5, 4}};
  for (const Shape& s : shapes)
    for (MemoryFormat f : kFormats) {
      if (s.size() == 2 && f == MemoryFormat::ChannelsLast) continue;  // the same layout for [N, C]
      for (bool train : {true, false})
        for (bool affine : {true, false})
          for (Fuse fuse : {Fuse::None, Fuse::Relu, Fuse::ResidualRelu})
            for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
              if (!train && !momentum) continue;  // momentum is unused in eval mode
              const int64_t C = s[1];
              Tensor x = leaf(randn(s, 11, 1.5f).contiguous(f));
              Tensor w = affine ? leaf(uniform({C}, 12, 0.5f, 1.5f)) : Tensor();
              Tensor b = affine ? leaf(randn({C}, 13)) : Tensor();
              Tensor res = fuse == Fuse::ResidualRelu ? leaf(randn(s, 14).contiguous(f)) : Tensor();
              ops::BatchNormState sc = bn_state(C, 15, Device::cpu()), sg = bn_state(C, 15, cuda());
              const bool relu = fuse != Fuse::None;
              const std::string what = "batch_norm " + shape_str(s) + " " + fmt_name(f) + (train ? " train" : " eval") +
                                       (affine ? " affine" : "") + fuse_name(fuse) +
                                       (momentum ? " m=0.1" : " m=cumulative");
              SCOPED_TRACE(what);
              check_op(what, {x, w, b, res}, [&](const std::vector<Tensor>& in) {
                ops::BatchNormState& st = in[0].device().is_cuda() ? sg : sc;
                return ops::batch_norm(in[0], in[1], in[2], st, train, momentum, 1e-5, {in[3], relu});
              }, s.size() == 4 ? std::vector<MemoryFormat>{f} : std::vector<MemoryFormat>{});
              expect_same_state(what, sg, sc);
            }
    }
}

TEST(GpuBatchNorm, RunningStatisticsAfterThreeTrainingSteps) {
  NF_REQUIRE_GPU();
  NoGradGuard no_grad;
  const int64_t C = 5;
  for (MemoryFormat f : kFormats)
    for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
      ops::BatchNormState sc{Tensor::zeros({C}), Tensor::ones({C}), Tensor::zeros({}, DType::I64)};
      ops::BatchNormState sg{sc.running_mean.to(cuda()), sc.running_var.to(cuda()),
                             sc.num_batches_tracked.to(cuda())};
      Tensor w = uniform({C}, 21, 0.5f, 1.5f), b = randn({C}, 22);
      for (int step = 0; step < 3; ++step) {
        Tensor x = uniform({3, C, 7, 6}, 30 + step, -1.f, 3.f).contiguous(f);  // mean and variance far from 0, 1
        ops::batch_norm(x, w, b, sc, true, momentum, 1e-5);
        ops::batch_norm(x.to(cuda()), w.to(cuda()), b.to(cuda()), sg, true, momentum, 1e-5);
      }
      ops::batch_norm(randn({3, C, 7, 6}, 40).contiguous(f).to(cuda()), w.to(cuda()), b.to(cuda()), sg, false,
                      momentum, 1e-5);  // eval mode: the state stays as it is
      const std::string what = std::string("bn running stats after 3 steps ") + fmt_name(f) +
                               (momentum ? " m=0.1" : " m=cumulative");
      expect_same_state(what, sg, sc);
      EXPECT_EQ(sg.num_batches_tracked.to_int_vector(), std::vector<int64_t>{3}) << what;
    }
}

// Ghost batch norm (virtual_batch): groups of 3 of 7 samples (3, 4: a last group of one
// merged), of 4 of 9, on the device entry points' views; two training steps each.
TEST(GpuBatchNorm, GhostBatchNormMatchesCpu) {
  NF_REQUIRE_GPU();
  const std::pair<Shape, int64_t> cases[] = {{{7, 5, 4, 3}, 3}, {{9, 5}, 4}, {{7, 5, 6}, 3}};
  for (const auto& [s, V] : cases)
    for (MemoryFormat f : kFormats) {
      if (s.size() == 2 && f == MemoryFormat::ChannelsLast) continue;  // the same layout for [N, C]
      for (Fuse fuse : {Fuse::None, Fuse::ResidualRelu})
        for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
          const int64_t C = s[1];
          ops::BatchNormState sc = bn_state(C, 15, Device::cpu()), sg = bn_state(C, 15, cuda());
          const std::string what = "ghost batch_norm " + shape_str(s) + " V=" + std::to_string(V) + " " +
                                   fmt_name(f) + fuse_name(fuse) + (momentum ? " m=0.1" : " m=cumulative");
          SCOPED_TRACE(what);
          for (uint64_t step = 0; step < 2; ++step) {
            Tensor x = leaf(randn(s, 50 + step, 1.5f).contiguous(f));
            Tensor w = leaf(uniform({C}, 12, 0.5f, 1.5f)), b = leaf(randn({C}, 13));
            Tensor res = fuse == Fuse::ResidualRelu ? leaf(randn(s, 14).contiguous(f)) : Tensor();
            check_op(what, {x, w, b, res}, [&](const std::vector<Tensor>& in) {
              ops::BatchNormState& st = in[0].device().is_cuda() ? sg : sc;
              return ops::batch_norm(in[0], in[1], in[2], st, true, momentum, 1e-5, {in[3], fuse != Fuse::None}, V);
            }, s.size() == 4 ? std::vector<MemoryFormat>{f} : std::vector<MemoryFormat>{});
          }
          expect_same_state(what, sg, sc);
        }
    }
}

TEST(GpuSyncBatchNorm, OneRankMatchesCpuBatchNorm) {
  NF_REQUIRE_GPU();
  for (const Shape& s : {Shape{3, 5, 7, 6}, Shape{7, 5}})
    for (MemoryFormat f : kFormats)
      for (Fuse fuse : {Fuse::None, Fuse::Relu, Fuse::ResidualRelu}) {
        if (s.size() == 2 && f == MemoryFormat::ChannelsLast) continue;
        const int64_t C = s[1];
        Tensor x = leaf(randn(s, 21, 1.5f).contiguous(f));
        Tensor w = leaf(uniform({C}, 22, 0.5f, 1.5f)), b = leaf(randn({C}, 23));
        Tensor res = fuse == Fuse::ResidualRelu ? leaf(randn(s, 24).contiguous(f)) : Tensor();
        ops::BatchNormState sc = bn_state(C, 25, Device::cpu()), sg = bn_state(C, 25, cuda());
        const bool relu = fuse != Fuse::None;
        const std::string what = "sync_batch_norm " + shape_str(s) + " " + fmt_name(f) + fuse_name(fuse);
        SCOPED_TRACE(what);
        check_op(what, {x, w, b, res}, [&](const std::vector<Tensor>& in) {
          if (in[0].device().is_cpu()) return ops::batch_norm(in[0], in[1], in[2], sc, true, 0.1, 1e-5, {in[3], relu});
          return ops::sync_batch_norm(in[0], in[1], in[2], sg, 0.1, 1e-5, {in[3], relu}, dist::world());
        }, s.size() == 4 ? std::vector<MemoryFormat>{f} : std::vector<MemoryFormat>{});
        expect_same_state(what, sg, sc);
      }
}
