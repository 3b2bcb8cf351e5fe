// Whole-model checks on CUDA: a ResNet-20 (option-A shortcuts) SGD training step on a
// batch of 8 random 3x32x32 images agrees with the CPU (logits, loss, every parameter
// gradient, the updated weights and BN statistics, 1e-3 relative: many ops compound)
// with NCHW and NHWC batches, and is bitwise reproducible run to run on the GPU; its
// eval-mode forward (folded conv+BN without autograd, BN eval with autograd) agrees too; the
// smoke recipe trained on CUDA through the library (nf::train) leaves a checkpoint
// that evaluates to the same top-1 (loss within 1e-4) on the CPU and on CUDA; a listed
// network's training step agrees with the CPU too.
// The CIFAR-10 sample: $NF_CIFAR_SAMPLE (the folder holding cifar-10-batches-bin),
// else the source tree's ../shared/data/cifar10-sample; the recipes: $NF_CONFIG_DIR,
// else the source tree's configs/ (tools/scripts/gpu/check.sh points both into the bundle).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

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

constexpr double kModelRtol = 1e-3;

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

// Elementwise |gpu - cpu| <= 1e-3 * |cpu| + 1e-4 * max|cpu| + 1e-6: the per-tensor floor
// absorbs cancellation in gradients whose elements straddle zero.
void expect_close_model(const std::string& what, const Tensor& g, const Tensor& c) {
  float max_c = 0;
  for (float v : c.to_vector()) max_c = std::max(max_c, std::fabs(v));
  expect_close(what, g, c, kModelRtol, 1e-6 + 1e-4 * max_c);
}

}  // namespace

TEST(GpuModel, ResNet20TrainingStepMatchesCpu) {
  NF_REQUIRE_GPU();
  const Tensor x = randn({8, 3, 32, 32}, 1), y = labels(8, 10, 2);
  ModulePtr cpu_model = resnet20(Device::cpu());
  const Step c = train_step(*cpu_model, x, y);
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    SCOPED_TRACE(fmt_name(f));
    const std::string tag = std::string("resnet20 ") + fmt_name(f) + " ";
    ModulePtr gpu_model = resnet20(cuda());
    for (auto& [name, t] : gpu_model->state_dict())
      ASSERT_TRUE(t.device().is_cuda()) << name << " is on " << t.device().str() << " after Module::to(cuda)";
    const Step g = train_step(*gpu_model, x.contiguous(f).to(cuda()), y.to(cuda()));
    expect_close_model(tag + "logits", g.logits, c.logits);
    expect_close(tag + "loss", g.loss, c.loss, kModelRtol);
    ASSERT_EQ(g.grads.size(), c.grads.size());
    for (auto& [name, t] : c.grads) expect_close_model(tag + "grad " + name, g.grads.at(name), t);
    for (auto& [name, t] : c.after) {
      if (t.dtype() == DType::I64)
        EXPECT_EQ(g.after.at(name).to_int_vector(), t.to_int_vector()) << name;
      else
        expect_close_model(tag + "after step " + name, g.after.at(name), t);
    }
  }
}

// Evaluation paths: eval mode without autograd (conv_bn folds BN into the convolution,
// what nf::evaluate and normforge eval/bench run) and eval mode with autograd (BN with
// running statistics, fine-tuning with frozen statistics), after two train-mode
// no-grad forwards (BN recalibration's path) gave the running statistics real values.
TEST(GpuModel, ResNet20EvalForwardMatchesCpu) {
  NF_REQUIRE_GPU();
  ModulePtr c = resnet20(Device::cpu()), g = resnet20(cuda());
  {
    NoGradGuard no_grad;
    for (uint64_t seed : {5, 6}) {
      const Tensor x = randn({8, 3, 32, 32}, seed, 2.f);
      expect_close_model("resnet20 train-mode no-grad forward", (*g)(x.contiguous(MemoryFormat::ChannelsLast).to(cuda())),
                         (*c)(x));
    }
  }
  for (auto& [name, t] : c->state_dict())
    if (name.find("running_") != std::string::npos)
      expect_close_model("resnet20 recalibrated " + name, g->state_dict().at(name), t);
  c->eval();
  g->eval();
  const Tensor x = randn({8, 3, 32, 32}, 7);
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    const std::string tag = std::string("resnet20 eval ") + fmt_name(f);
    {
      NoGradGuard no_grad;
      expect_close_model(tag + " no-grad (folded BN) logits", (*g)(x.contiguous(f).to(cuda())), (*c)(x));
    }
    expect_close_model(tag + " with autograd logits", (*g)(x.contiguous(f).to(cuda())), (*c)(x));
  }
}

// A listed network (model.layers) with BN after ReLU, a projection residual, ghost BN,
// GroupNorm, LayerNorm on images and features and BatchNorm1d: one training step on
// CUDA agrees with the CPU (the fusion pass's steps run on both).
TEST(GpuModel, ListedNetworkTrainingStepMatchesCpu) {
  NF_REQUIRE_GPU();
  const fs::path yaml = fs::temp_directory_path() / ("nf_gpu_listed_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(yaml) << R"(model:
  layers:
    - {conv: {out: 16, kernel: 3, padding: 1, bias: false}}
    - relu
    - batch_norm
    - residual:
        body: [{conv: {out: 32, kernel: 3, stride: 2, padding: 1, bias: false}}, {batch_norm: {virtual_batch: 3}}, relu,
               {conv: {out: 32, kernel: 3, padding: 1, bias: false}}, batch_norm]
        shortcut: [{conv: {out: 32, kernel: 1, stride: 2, bias: false}}, batch_norm]
    - relu
    - {group_norm: {groups: 8}}
    - layer_norm
    - {max_pool: {kernel: 2}}
    - global_avg_pool
    - flatten
    - {linear: {out: 32}}
    - batch_norm
    - relu
    - layer_norm
    - {linear: {out: classes}}
)";
  const ModelSpec spec = parse_recipe(yaml.string()).model;
  fs::remove(yaml);
  auto build = [&](Device d) {
    manual_seed(0);
    ModulePtr m = build_model(spec);
    m->to(d);
    return m;
  };
  const Tensor x = randn({8, 3, 32, 32}, 11), y = labels(8, 10, 12);
  ModulePtr cpu_model = build(Device::cpu()), gpu_model = build(cuda());
  const Step c = train_step(*cpu_model, x, y);
  const Step g = train_step(*gpu_model, x.contiguous(MemoryFormat::ChannelsLast).to(cuda()), y.to(cuda()));
  expect_close_model("listed logits", g.logits, c.logits);
  for (auto& [name, t] : c.grads) expect_close_model("listed grad " + name, g.grads.at(name), t);
  for (auto& [name, t] : c.after)
    if (t.dtype() != DType::I64) expect_close_model("listed after step " + name, g.after.at(name), t);
}

TEST(GpuModel, ResNet20TrainingStepIsBitwiseReproducible) {
  NF_REQUIRE_GPU();
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

TEST(GpuModel, CheckpointTrainedOnCudaEvaluatesTheSameOnCpu) {
  NF_REQUIRE_GPU();
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
