// The typed recipe: what `normforge train/eval/predict/summary CONFIG.yaml` reads.
// parse_recipe() is the schema: every key, its type, range and default (documented
// in configs/README.md). `resolved` is the recipe with every default filled in; it is
// saved as config.yaml in each checkpoint.
#pragma once
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "data/transforms.h"
#include "models/model_spec.h"

namespace nf {

struct DataSpec {
  std::string dataset = "cifar10";  // cifar10 | cifar100 | fashion_mnist | mnist | image_folder
  std::string root;
  int64_t batch_size = 128, eval_batch_size = 256;
  int64_t workers = 2;
  bool shuffle = true;
  int64_t image_size = 32;  // image_folder: images are resized to image_size x image_size
  data::Compose train_transforms, test_transforms;
};

struct OptimizerSpec {
  std::string name = "sgd";  // sgd | adamw
  double lr = 0.1, momentum = 0.9, dampening = 0.0, weight_decay = 5e-4;
  bool nesterov = true;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::vector<std::string> no_weight_decay;  // "bn", "bias", or glob patterns of parameter names
};

struct ScheduleSpec {
  std::string name = "cosine";  // constant | step | multistep | cosine | onecycle
  double warmup_epochs = 0, warmup_start_factor = 0.0;
  int64_t step_size = 30;
  std::vector<int64_t> milestones;
  double gamma = 0.1, min_lr = 0.0;
  double max_lr = 0.0, pct_start = 0.3, div_factor = 25.0, final_div_factor = 1e4;
};

struct TrainerSpec {
  int64_t epochs = 160;
  std::optional<int64_t> max_steps;
  int64_t eval_every = 1, checkpoint_every = 1, keep_last = 3, log_every = 50;
  std::string out_dir = "runs/default";
};

struct FinetuneSpec {
  std::string bn = "trainable";  // trainable | frozen | frozen_stats
  std::vector<std::string> freeze;
  bool reset_head = false;
  int64_t recalibrate_bn_batches = 0;  // > 0: recompute BN running stats over N batches before training
};

struct Recipe {
  uint64_t seed = 0;
  std::string device = "cpu";
  bool channels_last = true;      // CUDA: batches (and so every activation) channels-last
  std::string precision = "fp32";  // fp32 | tf32 (CUDA convolutions and matmuls on TF32 tensor cores)
  bool cudnn_benchmark = false;    // CUDA: time every convolution algorithm once, keep the fastest
  std::string conv_algorithm = "winograd";  // CPU: winograd | direct (ops::CpuConvAlgorithm)
  int64_t threads = 0;
  ModelSpec model;
  std::optional<std::string> init;  // model.init
  DataSpec data;
  OptimizerSpec optimizer;
  ScheduleSpec schedule;
  double label_smoothing = 0.0;
  TrainerSpec trainer;
  FinetuneSpec finetune;
  std::string file;
  YAML::Node resolved;
};

Recipe parse_recipe(const std::string& file, const std::vector<std::string>& sets = {});
std::string dump_recipe(const Recipe& r);  // the resolved recipe as YAML text

// Glob match with '*' and '?' (parameter-name patterns such as "layer1.*").
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace nf
