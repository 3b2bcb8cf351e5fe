// Group and Layer Normalization (ops::group_norm, ops::layer_norm), per device
// (device_test.h): finite-difference gradients on odd shapes (groups 1, 2, 3, 6 of 6
// channels; 2-, 3- and 4-d; [5, 7] layer norm; affine learning, off, frozen; weight-only
// gradients), PyTorch 1.13 parity of the output and every gradient
// (tests/parity/ref_group_norm.py) with the input in NCHW, channels-last and (CPU)
// blocked nChw16c (32 channels), bad input errors; the same bits for 1 and 2 CPU threads.
#include "device_test.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/ops/group_norm.h"

using namespace nf;
using namespace nf::test;

namespace {

// Gradients of group_norm (groups > 0) or layer_norm (groups == 0) w.r.t. x, and
// weight/bias when they learn.
void check_grads(Device d, const Shape& shape, int64_t groups, Affine affine) {
  const int64_t C = shape[1];
  Tensor x = param(randn(shape, 7, 1.5f));
  const AffineParams a = affine_params(C, affine, 8);
  const std::string what = (groups ? "group_norm g" + std::to_string(groups) : std::string("layer_norm")) + " " +
                           shape_str(shape) + " " + affine_tag(affine);
  gradcheck(d, what, [&](const std::vector<Tensor>& in) {
    return groups ? ops::group_norm(in[0], groups, in[1], in[2], 1e-5) : ops::layer_norm(in[0], in[1], in[2], 1e-5);
  }, {x, a.weight, a.bias});
}

// Mirrors CASES in tests/parity/ref_group_norm.py: groups (0: layer_norm), eps.
// |ours - PyTorch's| <= atol + rtol * |PyTorch's|, per element.
void parity(Device d, const std::string& name, int64_t groups, double eps = 1e-5, double rtol = 1e-5,
            double atol = 1e-6) {
  io::TensorDict ref = load_ref("group_norm_" + name);
  const bool affine = ref.count("weight") > 0;
  const Tensor& x0 = ref.at("x");
  std::vector<MemoryFormat> formats{MemoryFormat::Contiguous};
  if (x0.dim() == 4) formats.push_back(MemoryFormat::ChannelsLast);
  if (x0.dim() == 4 && x0.size(1) % 16 == 0 && d.is_cpu()) formats.push_back(MemoryFormat::Blocked16);
  for (MemoryFormat f : formats) {
    const std::string what =
        name + (f == MemoryFormat::Contiguous ? "" : f == MemoryFormat::ChannelsLast ? " cl" : " blk");
    Tensor x = to_device(d, param(x0.contiguous(f)));
    Tensor w = affine ? to_device(d, param(ref.at("weight"))) : Tensor();
    Tensor b = affine ? to_device(d, param(ref.at("bias"))) : Tensor();
    Tensor y = groups ? ops::group_norm(x, groups, w, b, eps) : ops::layer_norm(x, w, b, eps);
    y.backward(to_device(d, ref.at("gy").contiguous(f)));
    expect_close(what + " y", y, ref.at("y"), rtol, atol);
    expect_close(what + " dx", x.grad(), ref.at("gx"), rtol, atol);
    if (affine) {
      expect_close(what + " dweight", w.grad(), ref.at("gw"), rtol, atol);
      expect_close(what + " dbias", b.grad(), ref.at("gb"), rtol, atol);
    }
  }
}

}  // namespace

NF_DEVICE_TEST_SUITE(GroupNormGradcheck);
NF_DEVICE_TEST_SUITE(LayerNormGradcheck);
NF_DEVICE_TEST_SUITE(GroupNormParity);
NF_DEVICE_TEST_SUITE(LayerNormParity);
NF_DEVICE_TEST_SUITE(GroupNormErrors);

TEST_P(GroupNormGradcheck, GroupsOfSixChannels) {
  for (Affine a : {Affine::Learn, Affine::None, Affine::Frozen})
    for (int64_t g : {1, 2, 3, 6}) check_grads(device(), {3, 6, 5, 3}, g, a);
}

TEST_P(GroupNormGradcheck, TwoAndThreeDimensionalInputs) {
  for (Affine a : {Affine::Learn, Affine::None}) {
    check_grads(device(), {4, 6}, 3, a);
    check_grads(device(), {2, 4, 7}, 2, a);
    check_grads(device(), {1, 6, 3, 2}, 2, a);
  }
}

TEST_P(GroupNormGradcheck, WeightAndBiasOnly) {
  Tensor x = randn({3, 6, 5, 3}, 11, 1.5f);
  Tensor w = param(uniform({6}, 12, 0.5f, 1.5f)), b = param(randn({6}, 13));
  gradcheck("group_norm g2 weight/bias only",
            [](const std::vector<Tensor>& in) { return ops::group_norm(in[0], 2, in[1], in[2]); }, {x, w, b});
  EXPECT_FALSE(x.grad().defined());
}

TEST_P(LayerNormGradcheck, FiveBySeven) {
  for (Affine a : {Affine::Learn, Affine::None, Affine::Frozen}) check_grads(device(), {5, 7}, 0, a);
}

TEST_P(GroupNormParity, Groups1) { parity(device(), "gn_g1", 1); }
TEST_P(GroupNormParity, Groups2) { parity(device(), "gn_g2", 2); }
TEST_P(GroupNormParity, Groups3) { parity(device(), "gn_g3", 3); }
TEST_P(GroupNormParity, Groups6) { parity(device(), "gn_g6", 6); }
TEST_P(GroupNormParity, NoAffineEps) { parity(device(), "gn_noaffine_eps", 3, 1e-3); }
// Values of 100 +- 1.5: y = x * alpha + beta (PyTorch's form, both sides) adds two
// terms of ~70 whose float rounding (~4e-6 each) is what is left; the statistics
// themselves are exact (shifted sums in double).
TEST_P(GroupNormParity, LargeOffset) { parity(device(), "gn_offset", 2, 1e-5, 1e-4, 3e-5); }
TEST_P(GroupNormParity, ThreeDimensional) { parity(device(), "gn_3d", 2); }
TEST_P(GroupNormParity, TwoDimensional) { parity(device(), "gn_2d", 3); }
TEST_P(GroupNormParity, ThirtyTwoChannelsBlocked) { parity(device(), "gn_32ch", 8); }
TEST_P(GroupNormParity, ThirtyTwoChannelsOneGroup) { parity(device(), "gn_32ch_g1", 1); }
TEST_P(LayerNormParity, Seven) { parity(device(), "ln", 0); }
TEST_P(LayerNormParity, NoAffine) { parity(device(), "ln_noaffine", 0); }
TEST_P(LayerNormParity, Wide) { parity(device(), "ln_wide", 0); }

TEST(GroupNormThreads, SameBitsForOneAndTwoThreads) {
  const int saved = cpu::num_threads();
  for (MemoryFormat f : {MemoryFormat::ChannelsLast, MemoryFormat::Blocked16}) {
    std::vector<Tensor> out;
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      Tensor x = param(randn({4, 32, 16, 16}, 30, 2.f).contiguous(f));  // above the parallel threshold
      Tensor w = param(uniform({32}, 31, 0.5f, 1.5f)), b = param(randn({32}, 32));
      Tensor y = ops::group_norm(x, 4, w, b);
      y.backward(randn({4, 32, 16, 16}, 33).contiguous(f));
      for (const Tensor& t : {y, x.grad(), w.grad(), b.grad()}) out.push_back(t);
    }
    for (size_t i = 0; i < 4; ++i) expect_bitwise_equal("output/gradient " + std::to_string(i), out[i], out[i + 4]);
  }
  cpu::set_num_threads(saved);
}

TEST_P(GroupNormErrors, BadInputsSayWhatIsWrong) {
  auto randn = [this](const Shape& s, uint64_t seed) { return dev(test::randn(s, seed)); };
  const Tensor x = randn({2, 6, 3, 3}, 20);
  expect_error_is([&] { ops::group_norm(x, 4, Tensor(), Tensor()); },
               "group_norm: the 6 channels of input [2, 6, 3, 3] do not divide into 4 groups");
  expect_error_is([&] { ops::group_norm(x, 0, Tensor(), Tensor()); },
               "group_norm: the 6 channels of input [2, 6, 3, 3] do not divide into 0 groups");
  expect_error_is([&] { ops::group_norm(x, 3, randn({3}, 21), Tensor()); },
               "group_norm: weight has shape [3], expected [6] for input [2, 6, 3, 3]");
  expect_error_is([&] { ops::group_norm(x, 3, Tensor(), randn({6, 1}, 22)); },
               "group_norm: bias has shape [6, 1], expected [6] for input [2, 6, 3, 3]");
  expect_error_is([&] { ops::layer_norm(randn({5, 7}, 23), randn({6}, 24), Tensor()); },
               "layer_norm: weight has shape [6], expected [7] for input [5, 7]");
  EXPECT_THROW(ops::layer_norm(x, Tensor(), Tensor()), Error);
  EXPECT_THROW(ops::group_norm(randn({6}, 25), 1, Tensor(), Tensor()), Error);
}
