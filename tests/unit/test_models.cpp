// The model registry: every model builds, has the parameter count of the reference
// PyTorch implementations (torchvision-style CIFAR ResNets, pytorch-cifar's ResNet-18/34
// and PreAct-ResNet-18 plus its final BN, the official Wide-ResNet), and trains a step
// on each device (device_test.h) with a gradient for every parameter.
#include "device_test.h"
#include "framework/ops/loss.h"
#include "models/registry.h"

using namespace nf;
using namespace nf::test;

namespace {
int64_t count(const Module& m) {
  int64_t n = 0;
  for (auto& [name, p] : m.named_parameters()) n += p.numel();
  return n;
}
ModulePtr make(const std::string& name, const std::string& shortcut = "projection", int64_t classes = 10) {
  ModelSpec s;
  s.name = name;
  s.shortcut = shortcut;
  s.num_classes = classes;
  return build_model(s);
}
}  // namespace

TEST(Models, ParameterCountsMatchTheReferenceImplementations) {
  EXPECT_EQ(count(*make("resnet20", "pad")), 269722);
  EXPECT_EQ(count(*make("resnet20")), 272474);
  EXPECT_EQ(count(*make("resnet56", "pad")), 853018);
  EXPECT_EQ(count(*make("resnet110", "pad")), 1727962);
  EXPECT_EQ(count(*make("resnet18")), 11173962);
  EXPECT_EQ(count(*make("resnet34")), 21282122);
  EXPECT_EQ(count(*make("preact_resnet18")), 11172170);
  EXPECT_EQ(count(*make("wrn16_4")), 2748890);
  EXPECT_EQ(count(*make("wrn28_10")), 36479194);
  EXPECT_EQ(count(*make("resnet18", "projection", 100)), 11220132);
}

NF_DEVICE_TEST_SUITE(ModelsStep);

TEST_P(ModelsStep, EveryModelTrainsAStepWithGradientsForEveryParameter) {
  for (const std::string& name : model_names()) {
    if (name == "wrn28_10" || name == "resnet110" || name == "resnet34") continue;  // same code as smaller siblings, slow
    ModelSpec s;
    s.name = name;
    s.in_channels = 1;
    s.num_classes = 7;
    s.dropout = 0.2;
    s.block_dropout = 0.1;
    ModulePtr m = build_model(s);
    m->to(device());
    m->train();
    Tensor logits = (*m)(dev(randn({2, 1, 28, 20}, 1)));
    ASSERT_EQ(shape_str(logits.shape()), "[2, 7]") << name;
    ops::cross_entropy(logits, dev(Tensor::from_vector(std::vector<int64_t>{3, 6}, {2}))).backward();
    for (auto& [pname, p] : m->named_parameters()) {
      EXPECT_TRUE(p.grad().defined()) << name << " " << pname;
      if (p.grad().defined()) EXPECT_EQ(p.grad().device(), device()) << name << " " << pname;
    }
  }
}

TEST(Models, TorchvisionStateDictNames) {
  auto sd = make("resnet20")->state_dict();
  for (const char* k : {"conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean", "layer3.2.bn2.bias",
                        "fc.weight", "fc.bias"})
    EXPECT_TRUE(sd.count(k)) << k;
  EXPECT_FALSE(make("resnet20", "pad")->state_dict().count("layer2.0.downsample.0.weight"));
}

TEST(Models, UnknownNameListsTheKnownOnes) {
  try {
    make("resnet21");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("known: "), std::string::npos);
  }
}
