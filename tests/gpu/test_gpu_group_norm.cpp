// CUDA against CPU: group_norm (groups 1, 2, 3, 6 of 6 channels; 8 groups of 64
// channels over 63 pixels; affine on/off; 2-, 3- and 4-d inputs; NCHW and NHWC) and
// layer_norm ([5, 7] and [4, 700]), output and every gradient, plus gradients of the
// input only and of weight/bias only. Odd shapes throughout.
#include "framework/ops/group_norm.h"
#include "gpu_test_util.h"

using namespace nf;
using namespace nf::gpu_test;

namespace {

const MemoryFormat kFormats[] = {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast};

// group_norm of x (any rank) with `groups`, affine or not; CUDA output in x's format.
void check_group_norm(const std::string& what, const Tensor& x, int64_t groups, bool affine) {
  const int64_t C = x.size(1);
  Tensor w = affine ? leaf(uniform({C}, 2, 0.5f, 1.5f)) : Tensor();
  Tensor b = affine ? leaf(randn({C}, 3)) : Tensor();
  check_op(what + " g" + std::to_string(groups) + (affine ? " affine" : ""), {leaf(x.clone()), w, b},
           [groups](const std::vector<Tensor>& in) { return ops::group_norm(in[0], groups, in[1], in[2]); },
           {x.memory_format()});
}

}  // namespace

TEST(GpuGroupNorm, ForwardAndGradientsMatchCpu) {
  NF_REQUIRE_GPU();
  for (MemoryFormat f : kFormats)
    for (bool affine : {true, false}) {
      for (int64_t g : {1, 2, 3, 6})
        check_group_norm(std::string("[3,6,5,3] ") + fmt_name(f), image({3, 6, 5, 3}, 1, f, 1.5f), g, affine);
      check_group_norm(std::string("[4,64,9,7] ") + fmt_name(f), image({4, 64, 9, 7}, 4, f, 2.f), 8, affine);
    }
  check_group_norm("[2,4,7]", randn({2, 4, 7}, 5), 2, true);
  check_group_norm("[5,12]", randn({5, 12}, 6), 3, true);
}

TEST(GpuGroupNorm, InputGradientOnlyAndWeightGradientOnly) {
  NF_REQUIRE_GPU();
  for (MemoryFormat f : kFormats) {
    Tensor x = image({3, 6, 5, 3}, 7, f), w = uniform({6}, 8, 0.5f, 1.5f), b = randn({6}, 9);
    auto gn = [](const std::vector<Tensor>& in) { return ops::group_norm(in[0], 3, in[1], in[2]); };
    check_op(std::string("group_norm dx only ") + fmt_name(f), {leaf(x.clone()), w, b}, gn, {f});
    check_op(std::string("group_norm dw db only ") + fmt_name(f), {x, leaf(w.clone()), leaf(b.clone())}, gn, {f});
  }
}

TEST(GpuLayerNorm, ForwardAndGradientsMatchCpu) {
  NF_REQUIRE_GPU();
  auto ln = [](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], in[1], in[2]); };
  for (const Shape& s : {Shape{5, 7}, Shape{4, 700}}) {
    const int64_t F = s[1];
    check_op("layer_norm " + shape_str(s), {leaf(randn(s, 10, 2.f)), leaf(uniform({F}, 11, 0.5f, 1.5f)),
                                            leaf(randn({F}, 12))}, ln);
    check_op("layer_norm no affine " + shape_str(s), {leaf(randn(s, 13)), Tensor(), Tensor()}, ln);
  }
}
