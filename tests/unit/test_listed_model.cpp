// model.layers: a listed network is an nn.Sequential (PyTorch's state-dict names), and
// the fusion pass over it changes no result, per device (device_test.h): evaluation
// logits within 1e-5 and the same top-1 as the unfused network, training outputs and
// gradients to float rounding.
#include <fstream>

#include "data_test_util.h"
#include "device_test.h"
#include "framework/autograd/autograd.h"
#include "framework/core/random.h"
#include "framework/ops/loss.h"
#include "layers/fusion.h"
#include "models/layer_registry.h"
#include "models/registry.h"
#include "tools/recipe/recipe.h"
#include "tools/cli/summary.h"

using namespace nf;
using namespace nf::test;

namespace {

// Every layer type: BN before and after ReLU, a projection and an identity residual
// (repeated), ghost BN, GroupNorm, LayerNorm on images and on features, a named head.
const char* kLayers = R"(
    - {conv: {out: 8, kernel: 3, padding: 1, bias: false}}
    - batch_norm
    - relu
    - {max_pool: {kernel: 2}}
    - {dropout: {p: 0.2}}
    - residual:
        body:
          - {conv: {out: 16, kernel: 3, stride: 2, padding: 1, bias: false}}
          - batch_norm
          - relu
          - {conv: {out: 16, kernel: 3, padding: 1, bias: false}}
          - batch_norm
        shortcut:
          - {conv: {out: 16, kernel: 1, stride: 2, bias: false}}
          - batch_norm
    - relu
    - repeat: {times: 2, layers: [{residual: {body: [{conv: {out: 16, kernel: 3, padding: 1}}, relu, {batch_norm: {virtual_batch: 3}}]}}, relu]}
    - {avg_pool: {kernel: 3, stride: 1, padding: 1}}
    - {group_norm: {groups: 4}}
    - layer_norm
    - global_avg_pool
    - flatten
    - {linear: {out: 24}}
    - batch_norm
    - relu
    - layer_norm
    - {linear: {out: classes}, name: head}
)";

ModelSpec listed_spec(const TempDir& dir) {
  const fs::path yaml = dir.path / "net.yaml";
  std::ofstream(yaml) << "model:\n  num_classes: 5\n  in_channels: 2\n  layers:" << kLayers << "data: {image_size: 12, dataset: image_folder}\n";
  return parse_recipe(yaml.string()).model;
}

// The same network twice from one seed: as build_model makes it (fused) and without the pass.
std::pair<ModulePtr, ModulePtr> fused_and_plain(const ModelSpec& spec, Device d) {
  manual_seed(3);
  ModulePtr fused = build_model(spec);
  Shape shape{spec.in_channels, spec.input_size, spec.input_size};
  ModulePtr plain = build_layers(spec.layers, shape);
  plain->load_state_dict(fused->state_dict());
  fused->to(d);
  plain->to(d);
  return {fused, plain};
}

}  // namespace

TEST(ListedModel, StateDictNamesFollowNnSequential) {
  TempDir dir;
  ModulePtr m = build_model(listed_spec(dir));
  const io::TensorDict sd = m->state_dict();
  for (const char* key : {"0.weight", "1.running_var", "1.num_batches_tracked", "5.body.0.weight", "5.body.4.bias",
                          "5.shortcut.0.weight", "5.shortcut.1.running_mean", "7.body.0.bias", "7.body.2.weight",
                          "9.body.2.running_var", "12.weight", "13.bias", "16.weight", "17.running_mean",
                          "19.weight", "head.weight", "head.bias"})
    EXPECT_TRUE(sd.count(key)) << key;
  EXPECT_FALSE(sd.count("0.bias"));        // bias: false
  EXPECT_FALSE(sd.count("7.shortcut.0.weight"));  // identity shortcut
  EXPECT_EQ(sd.at("16.weight").shape(), (Shape{24, 16}));  // flatten after global_avg_pool: 16 features
  EXPECT_EQ(sd.at("head.weight").shape(), (Shape{5, 24}));
  EXPECT_EQ(sd.size(), 53u);
}

TEST(ListedModel, FusionPassMarksConvBnReluAndResidualRelu) {
  TempDir dir;
  auto net = std::dynamic_pointer_cast<Sequential>(build_model(listed_spec(dir)));
  ASSERT_TRUE(net);
  std::map<size_t, size_t> spans;
  for (const auto& [first, step] : net->steps()) spans[first] = step.span;
  // conv,bn,relu at 0; residual,relu at 5, 7, 9; batch_norm,relu at 17.
  EXPECT_EQ(spans, (std::map<size_t, size_t>{{0, 3}, {5, 2}, {7, 2}, {9, 2}, {17, 2}}));
}

NF_DEVICE_TEST_SUITE(ListedModelFusion);

TEST_P(ListedModelFusion, FusedEvaluationMatchesUnfused) {
  TempDir dir;
  auto [fused, plain] = fused_and_plain(listed_spec(dir), device());
  // Non-trivial running statistics: a few training forwards on both (same dropout masks).
  for (uint64_t s = 0; s < 3; ++s) {
    const Tensor x = dev(randn({6, 2, 12, 12}, 10 + s, 2.f));
    manual_seed(s);
    fused->forward(x);
    manual_seed(s);
    plain->forward(x);
  }
  for (auto& [name, t] : plain->named_buffers()) expect_close("running " + name, fused->state_dict().at(name), t, 1e-5, 1e-6);
  fused->eval();
  plain->eval();
  NoGradGuard no_grad;  // as evaluation runs: BN folds into the convolutions
  const Tensor x = dev(randn({16, 2, 12, 12}, 99, 2.f));
  const Tensor a = fused->forward(x), b = plain->forward(x);
  expect_close("eval logits, fused vs unfused", a, b, 1e-5, 1e-5);
  std::vector<float> av = a.to_vector(), bv = b.to_vector();
  for (int64_t n = 0; n < 16; ++n) {
    auto row = [&](std::vector<float>& v) { return std::max_element(v.begin() + n * 5, v.begin() + n * 5 + 5) - v.begin(); };
    EXPECT_EQ(row(av), row(bv)) << "top-1 of sample " << n;
  }
}

TEST_P(ListedModelFusion, FusedTrainingStepMatchesUnfused) {
  TempDir dir;
  auto [fused, plain] = fused_and_plain(listed_spec(dir), device());
  const Tensor x = dev(randn({6, 2, 12, 12}, 7, 2.f));
  const Tensor labels = dev(Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 0}, {6}));
  for (Module* m : {fused.get(), plain.get()}) {
    manual_seed(1);
    ops::cross_entropy(m->forward(x), labels).backward();
  }
  const auto pf = fused->named_parameters(), pp = plain->named_parameters();
  ASSERT_EQ(pf.size(), pp.size());
  for (size_t i = 0; i < pf.size(); ++i) expect_close("grad " + pf[i].first, pf[i].second.grad(), pp[i].second.grad(), 1e-4, 1e-6);
}

// summary lists every leaf layer once, in definition order, although the fused steps run a
// residual's shortcut before the body's last conv + BN.
TEST(ListedModel, SummaryListsLayersInDefinitionOrder) {
  TempDir dir;
  const ModelSpec spec = listed_spec(dir);
  ModulePtr m = build_model(spec);
  std::vector<std::string> leaves, listed;
  for (auto& [name, mod] : m->named_modules())
    if (mod->children().empty() && mod->type_name() != "Sequential") leaves.push_back(name);  // not an identity shortcut
  for (const LayerInfo& l : summarize(*m, {spec.in_channels, spec.input_size, spec.input_size})) listed.push_back(l.name);
  EXPECT_EQ(listed, leaves);
}
