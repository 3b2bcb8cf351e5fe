// Whole-model checks only a GPU can make: a ResNet-20 (option-A shortcuts) SGD training
// step on a batch of 8 random 3x32x32 images (channels-last) is bitwise reproducible run
// to run on the GPU (logits, loss, every gradient, the updated weights and BN
// statistics); the smoke recipe trained on CUDA through the library (nf::train) leaves a
// checkpoint that evaluates to the same top-1 (loss within 1e-4) on the CPU and on CUDA.
// (The model's agreement with PyTorch on CUDA is the typed ResNetParity test of nf_tests.)
// The CIFAR-10 sample: $NF_CIFAR_SAMPLE (the folder holding cifar-10-batches-bin),
// else the source tree's ../shared/data/cifar10-sample; the recipes: $NF_CONFIG_DIR,
// else the source tree's configs/ (tools/scripts/gpu/check.sh points both into the bundle).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "framework/ops/loss.h"
#include "framework/optim/sgd.h"
#include "gpu_test_util.h"
#include "models/registry.h"
#include "tools/recipe/recipe.h"
#include "tools/train/evaluation.h"
#include "tools/train/factories.h"
#include "tools/train/model_setup.h"
#include "tools/train/trainer.h"

using namespace nf;
using namespace nf::gpu_test;
namespace fs = std::filesystem;

namespace {

ModulePtr resnet20(Device device) {
  manual_seed(0);
  ModelSpec spec;
  spec.name = "resnet20";
  spec.shortcut = "pad";
  ModulePtr m = build_model(spec);
  m->to(device);
  return m;
}

// What one training step produced, as host tensors.
struct Step {
  Tensor logits, loss;
  io::TensorDict grads, after;  // gradients by parameter name; parameters and buffers after the step
};

Step train_step(Module& model, const Tensor& x, const Tensor& y) {
  model.train();
  optim::SGD opt(model.named_parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
  opt.zero_grad();
  Step s;
  Tensor logits = model(x);
  Tensor loss = ops::cross_entropy(logits, y);
  loss.backward();
  s.logits = logits.to(Device::cpu());
  s.loss = loss.to(Device::cpu());
  for (auto& [name, p] : model.named_parameters()) {
    EXPECT_TRUE(p.grad().defined()) << name << " got no gradient";
    if (p.grad().defined()) s.grads[name] = p.grad().to(Device::cpu());
  }
  opt.step();
  for (auto& [name, t] : model.state_dict()) s.after[name] = t.to(Device::cpu());
  return s;
}

}  // namespace

TEST_F(GpuTest, ResNet20TrainingStepIsBitwiseReproducible) {
  const Tensor x = randn({8, 3, 32, 32}, 3).contiguous(MemoryFormat::ChannelsLast).to(cuda());
  const Tensor y = labels(8, 10, 4).to(cuda());
  ModulePtr m1 = resnet20(cuda()), m2 = resnet20(cuda());
  const Step a = train_step(*m1, x, y), b = train_step(*m2, x, y);
  expect_bitwise("resnet20 logits run to run", a.logits, b.logits);
  expect_bitwise("resnet20 loss run to run", a.loss, b.loss);
  for (auto& [name, t] : a.grads) expect_bitwise("resnet20 grad " + name + " run to run", b.grads.at(name), t);
  for (auto& [name, t] : a.after) {
    if (t.dtype() == DType::I64)
      EXPECT_EQ(b.after.at(name).to_int_vector(), t.to_int_vector()) << name;
    else
      expect_bitwise("resnet20 after step " + name + " run to run", b.after.at(name), t);
  }
}

namespace {

std::string env_or(const char* var, const std::string& fallback) {
  const char* v = std::getenv(var);
  return v && *v ? std::string(v) : fallback;
}

EvalResult evaluate_checkpoint(const Recipe& r, const std::string& checkpoint) {
  const Placement where = configure_runtime(r);  // as `normforge eval` does
  ModulePtr model = build_recipe_model(r, where, false);
  load_weights(*model, checkpoint);
  auto loader = make_loader(r, "test", false);
  return evaluate(*model, *loader, where);
}

}  // namespace

TEST_F(GpuTest, CheckpointTrainedOnCudaEvaluatesTheSameOnCpu) {
  const std::string sample = env_or("NF_CIFAR_SAMPLE", std::string(NF_SOURCE_DIR) + "/../shared/data/cifar10-sample");
  const std::string config = env_or("NF_CONFIG_DIR", std::string(NF_SOURCE_DIR) + "/configs") + "/smoke.yaml";
  const std::string root = sample + "/cifar-10-batches-bin";
  if (!fs::exists(root + "/data_batch_1.bin") || !fs::exists(root + "/test_batch.bin"))
    GTEST_SKIP() << "CIFAR-10 sample not found in " << root << " (set NF_CIFAR_SAMPLE to the folder holding it)";
  if (!fs::exists(config)) GTEST_SKIP() << config << " not found (set NF_CONFIG_DIR to the recipes' folder)";

  const fs::path out = fs::temp_directory_path() / ("nf_gpu_smoke_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::vector<std::string> common = {"data.root=" + root, "trainer.out_dir=" + out.string(),
                                           "trainer.max_steps=6", "data.workers=1"};
  auto recipe = [&](const std::string& device) {
    std::vector<std::string> sets = common;
    sets.push_back("device=" + device);
    return parse_recipe(config, sets);
  };
  train(recipe("cuda"), std::nullopt);
  const std::string final_ckpt = (out / "final").string();
  ASSERT_TRUE(fs::exists(out / "final" / "model.safetensors")) << "no final checkpoint in " << out;

  const EvalResult g = evaluate_checkpoint(recipe("cuda"), final_ckpt);
  const EvalResult c = evaluate_checkpoint(recipe("cpu"), final_ckpt);
  std::printf("[checkpoint] cuda: loss %.6f top1 %.4f top5 %.4f | cpu: loss %.6f top1 %.4f top5 %.4f (%lld images)\n",
              g.loss, g.top1, g.top5, c.loss, c.top1, c.top5, (long long)c.samples);
  EXPECT_EQ(g.samples, c.samples);
  EXPECT_EQ(g.top1, c.top1) << "top-1 differs between CUDA and CPU evaluation";
  EXPECT_NEAR(g.loss, c.loss, 1e-4 * std::fabs(c.loss)) << "loss differs between CUDA and CPU evaluation";
  fs::remove_all(out);
}
