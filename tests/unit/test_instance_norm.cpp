// Instance Normalization (ops::instance_norm, InstanceNorm1d/2d, the registry entry
// "instance_norm"), per device (device_test.h): PyTorch 1.13 parity of a training step
// (output, every gradient, the running statistics after two steps, num_batches_tracked
// left at 0) and of an evaluation step with the running statistics, affine and not,
// tracked and not, 1-d and 2-d, inputs NCHW, channels-last and (CPU) blocked
// (tests/parity/ref_instance_norm.py); finite-difference gradients in both modes; the
// same bits as group_norm with a group per channel; bad inputs; the layer's names and
// printout; recalibration; the recipe entry and its shape errors.
#include <fstream>

#include "data_test_util.h"
#include "device_test.h"
#include "framework/ops/group_norm.h"
#include "framework/ops/instance_norm.h"
#include "layers/instance_norm.h"
#include "models/registry.h"
#include "tools/recipe/recipe.h"

using namespace nf;
using namespace nf::test;

namespace {

// The module of a CASES entry of ref_instance_norm.py, with the reference's weight/bias.
std::shared_ptr<InstanceNorm> module_for(const io::TensorDict& ref, int64_t rank, InstanceNormOptions o) {
  const int64_t C = ref.at("x1").size(1);
  o.affine = ref.count("weight") > 0;
  o.track_running_stats = ref.count("rm1") > 0;
  std::shared_ptr<InstanceNorm> m;
  if (rank == 4)
    m = std::make_shared<InstanceNorm2d>(C, o);
  else
    m = std::make_shared<InstanceNorm1d>(C, o);
  if (o.affine) {
    Tensor w = m->weight(), b = m->bias();
    w.copy_(ref.at("weight"));
    b.copy_(ref.at("bias"));
  }
  return m;
}

// One forward and backward of m on the reference's x<tag>, compared with y, gx, gw, gb.
void expect_step(Device d, InstanceNorm& m, const io::TensorDict& ref, const std::string& tag, MemoryFormat f,
                 const std::string& what, double rtol, double atol) {
  if (m.weight().defined()) m.zero_grad();
  Tensor x = to_device(d, param(ref.at("x" + tag).contiguous(f)));
  Tensor y = m(x);
  y.backward(to_device(d, ref.at("gy" + tag).contiguous(f)));
  expect_close(what + " y", y, ref.at("y" + tag), rtol, atol);
  expect_close(what + " dx", x.grad(), ref.at("gx" + tag), rtol, atol);
  if (m.weight().defined()) {
    expect_close(what + " dweight", m.weight().grad(), ref.at("gw" + tag), rtol, atol);
    expect_close(what + " dbias", m.bias().grad(), ref.at("gb" + tag), rtol, atol);
  }
}

// Mirrors CASES in tests/parity/ref_instance_norm.py: training step 1, the running
// statistics after steps 1 and 2, an evaluation step; in every layout the device takes.
void parity(Device d, const std::string& name, InstanceNormOptions o = {}, double rtol = 1e-5, double atol = 1e-6) {
  const io::TensorDict ref = load_ref("instance_norm_" + name);
  const int64_t rank = ref.at("x1").dim(), C = ref.at("x1").size(1);
  std::vector<MemoryFormat> formats{MemoryFormat::Contiguous};
  if (rank == 4) formats.push_back(MemoryFormat::ChannelsLast);
  if (rank == 4 && C % 16 == 0 && d.is_cpu()) formats.push_back(MemoryFormat::Blocked16);
  for (MemoryFormat f : formats) {
    const std::string what =
        name + (f == MemoryFormat::Contiguous ? "" : f == MemoryFormat::ChannelsLast ? " cl" : " blk");
    auto m = module_for(ref, rank, o);
    m->to(d);
    m->train();
    expect_step(d, *m, ref, "1", f, what + " train", rtol, atol);
    if (!m->has_running_stats()) continue;
    expect_close(what + " running_mean 1", m->running_mean(), ref.at("rm1"), rtol, atol);
    expect_close(what + " running_var 1", m->running_var(), ref.at("rv1"), rtol, atol);
    {
      NoGradGuard ng;
      (*m)(to_device(d, ref.at("x2").contiguous(f)));
    }
    expect_close(what + " running_mean 2", m->running_mean(), ref.at("rm2"), rtol, atol);
    expect_close(what + " running_var 2", m->running_var(), ref.at("rv2"), rtol, atol);
    EXPECT_EQ(host(m->state_dict().at("num_batches_tracked")).data<int64_t>()[0], 0) << what;
    m->eval();
    expect_step(d, *m, ref, "e", f, what + " eval", rtol, atol);
  }
}

// A recipe with the given model.layers on 1-channel 8x8 images (an image folder's, which
// build needs no files for); its parsed model spec.
ModelSpec listed(const TempDir& dir, const std::string& layers) {
  const fs::path yaml = dir.path / "net.yaml";
  std::ofstream(yaml) << "model:\n  num_classes: 3\n  in_channels: 1\n  layers:\n" << layers
                      << "data: {image_size: 8, dataset: image_folder}\n";
  return parse_recipe(yaml.string()).model;
}

}  // namespace

NF_DEVICE_TEST_SUITE(InstanceNormParity);
NF_DEVICE_TEST_SUITE(InstanceNormGradcheck);
NF_DEVICE_TEST_SUITE(InstanceNormOp);

TEST_P(InstanceNormParity, Plain) { parity(device(), "plain"); }
TEST_P(InstanceNormParity, Affine) { parity(device(), "affine"); }
TEST_P(InstanceNormParity, RunningStatistics) { parity(device(), "track", {1e-5, 0.3}); }
TEST_P(InstanceNormParity, RunningStatisticsNoAffineEps) { parity(device(), "track_noaffine_eps", {1e-3, 0.1}); }
// Values of 100 +- 1.5: group_norm's LargeOffset case, the same float rounding of
// y = x * alpha + beta (two terms of ~70).
TEST_P(InstanceNormParity, LargeOffset) { parity(device(), "offset", {}, 1e-4, 3e-5); }
TEST_P(InstanceNormParity, SixteenChannelsBlocked) { parity(device(), "16ch"); }
TEST_P(InstanceNormParity, OneDimensional) { parity(device(), "1d"); }

TEST_P(InstanceNormGradcheck, TrainingAndEvaluation) {
  const Shape shape{3, 4, 5, 3};
  ops::BatchNormState none, stats{uniform({4}, 5, -0.5f, 0.5f), uniform({4}, 6, 0.5f, 2.f), Tensor::zeros({}, DType::I64)};
  for (Affine a : {Affine::Learn, Affine::None, Affine::Frozen}) {
    const AffineParams p = affine_params(4, a, 8);
    for (bool eval : {false, true}) {
      ops::BatchNormState s = eval ? stats : none;
      s.running_mean = dev(s.running_mean), s.running_var = dev(s.running_var);
      s.num_batches_tracked = dev(s.num_batches_tracked);
      gradcheck(std::string("instance_norm ") + (eval ? "eval " : "train ") + affine_tag(a),
                [s, eval](const std::vector<Tensor>& in) {
                  return ops::instance_norm(in[0], in[1], in[2], s, !eval, 0.1, 1e-5);
                },
                {param(randn(shape, 7, 1.5f)), p.weight, p.bias});
    }
  }
  gradcheck("instance_norm [N, C, L]",
            [](const std::vector<Tensor>& in) { return ops::instance_norm(in[0], in[1], in[2], {}, true, 0.1, 1e-5); },
            {param(randn({2, 3, 6}, 9)), param(uniform({3}, 10, 0.5f, 1.5f)), param(randn({3}, 11))});
}

// Without running statistics it is group_norm with a group per channel, bit for bit.
TEST_P(InstanceNormOp, IsGroupNormWithAGroupPerChannel) {
  Tensor x = dparam(randn({3, 6, 4, 5}, 12)), w = dparam(uniform({6}, 13, 0.5f, 1.5f)), b = dparam(randn({6}, 14));
  Tensor y = ops::instance_norm(x, w, b, {}, true, 0.1, 1e-5);
  Tensor gn = ops::group_norm(x, 6, w, b, 1e-5);
  expect_bitwise_equal("y", y, gn);
}

TEST_P(InstanceNormOp, BadInputsSayWhatIsWrong) {
  const ops::BatchNormState none;
  expect_error_is([&] { ops::instance_norm(dev(randn({2, 3, 1, 1}, 15)), Tensor(), Tensor(), none, true, 0.1, 1e-5); },
               "instance_norm: expected more than 1 spatial element per channel, got input [2, 3, 1, 1]");
  const Tensor flat = dev(randn({2, 3}, 16));
  expect_error_is([&] { ops::instance_norm(flat, Tensor(), Tensor(), none, true, 0.1, 1e-5); },
               "instance_norm: expected input [N, C, L] or [N, C, H, W], got " + flat.str());
  InstanceNorm2d m(4);
  m.to(device());
  expect_error_is([&] { m(dev(randn({2, 3, 4, 4}, 17))); },
               "InstanceNorm2d(4): input has 3 channels (shape [2, 3, 4, 4]), expected 4");
  expect_error_is([&] { m(dev(randn({2, 4, 4}, 18))); }, "InstanceNorm2d: expected 4D input, got shape [2, 4, 4]");
}

TEST(InstanceNormLayer, NamesAndPrintoutAsPyTorch) {
  InstanceNorm2d plain(4);
  EXPECT_EQ(plain.repr(), "InstanceNorm2d(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  EXPECT_TRUE(plain.state_dict().empty());
  EXPECT_FALSE(plain.has_running_stats());
  InstanceNorm1d tracked(5, {1e-3, 0.3, true, true});
  EXPECT_EQ(tracked.repr(), "InstanceNorm1d(5, eps=0.001, momentum=0.3, affine=True, track_running_stats=True)");
  std::vector<std::string> keys;
  for (auto& [k, t] : tracked.state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"bias", "num_batches_tracked", "running_mean", "running_var", "weight"}));
}

// Recalibration averages the batches' statistics cumulatively: over two batches, the
// mean of what momentum 1 would give for each alone.
TEST(InstanceNormLayer, RecalibrationIsTheCumulativeAverage) {
  const Tensor x1 = randn({2, 3, 4, 4}, 19), x2 = randn({2, 3, 4, 4}, 20, 2.f);
  auto alone = [](const Tensor& x) {
    InstanceNorm2d m(3, {1e-5, 1.0, false, true});
    NoGradGuard ng;
    m(x);
    return std::make_pair(m.running_mean().to_vector(), m.running_var().to_vector());
  };
  const auto [m1, v1] = alone(x1);
  const auto [m2, v2] = alone(x2);
  InstanceNorm2d m(3, {1e-5, 0.1, false, true});
  m.start_recalibration();
  {
    NoGradGuard ng;
    m(x1);
    m(x2);
  }
  m.end_recalibration();
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(m.running_mean().to_vector()[c], (m1[c] + m2[c]) / 2, 1e-6);
    EXPECT_NEAR(m.running_var().to_vector()[c], (v1[c] + v2[c]) / 2, 1e-5);
  }
  EXPECT_DOUBLE_EQ(m.options().momentum, 0.1);
}

// The recipe entry: PyTorch's defaults, the layer chosen by rank, a 1x1 map refused with
// the recipe's line.
TEST(InstanceNormRecipe, ListedNetworkBuildsAndRefusesAOneByOneMap) {
  TempDir dir;
  const ModelSpec spec = listed(dir, R"(    - {conv: {out: 4, kernel: 3, padding: 1}}
    - instance_norm
    - {instance_norm: {affine: true, track_running_stats: true, momentum: 0.2, eps: 0.001}}
    - relu
    - global_avg_pool
    - flatten
    - {linear: {out: classes}}
)");
  ModulePtr m = build_model(spec);
  EXPECT_EQ(m->children()[1].second->repr(),
            "InstanceNorm2d(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  EXPECT_EQ(m->children()[2].second->repr(),
            "InstanceNorm2d(4, eps=0.001, momentum=0.2, affine=True, track_running_stats=True)");
  EXPECT_EQ((*m)(randn({2, 1, 8, 8}, 21)).shape(), (Shape{2, 3}));
  const ModelSpec bad = listed(dir, R"(    - global_avg_pool
    - instance_norm
    - flatten
    - {linear: {out: classes}}
)");
  try {
    build_model(bad);
    ADD_FAILURE() << "a 1x1 map was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("net.yaml:6:7: model.layers[1] (instance_norm): needs more than one value"),
              std::string::npos)
        << e.what();
  }
}
