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
#include "framework/ops/conv.h"
#include "framework/optim/lr_schedule.h"
#include "models/model_spec.h"

namespace nf {

struct DataSpec {
  std::string dataset = "cifar10";  // cifar10 | cifar100 | fashion_mnist | mnist | image_folder
  std::string root;
  int64_t batch_size = 128, eval_batch_size = 256;
  int64_t workers = 2;
  bool shuffle = true;
  int64_t image_size = 32;  // image_folder: images are resized to image_size x image_size
  bool skip_bad_images = false;  // image_folder: drop undecodable files (counted in the log) instead of failing
  data::Compose train_transforms, test_transforms;
};

// The recipe's choices, parsed once into enums (the YAML spellings in comments).
enum class Precision { Fp32, Tf32 };                   // fp32 | tf32
enum class OptimizerName { Sgd, AdamW };               // sgd | adamw
enum class BnMode { Trainable, Frozen, FrozenStats };  // trainable | frozen | frozen_stats

struct OptimizerSpec {
  OptimizerName name = OptimizerName::Sgd;
  double lr = 0.1, momentum = 0.9, dampening = 0.0, weight_decay = 5e-4;
  bool nesterov = true;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::vector<std::string> no_weight_decay;  // "bn", "bias", or glob patterns of parameter names
};

// schedule.*: the schedule's own options as the recipe gives them (name, warm-up
// factor, step_size, milestones, gamma, min_lr, onecycle's); make_schedule adds what
// depends on the optimizer and the data (base_lr, steps per epoch, total steps).
struct ScheduleSpec {
  ScheduleSpec() { options.name = optim::ScheduleName::Cosine; }  // the parser's default
  optim::ScheduleOptions options;
  double warmup_epochs = 0;  // may be fractional: options.warmup_steps = round(warmup_epochs * steps per epoch)
};

struct TrainerSpec {
  int64_t epochs = 160;
  std::optional<int64_t> max_steps;
  int64_t eval_every = 1, checkpoint_every = 1, keep_last = 3, log_every = 50;
  int64_t checkpoint_every_steps = 0;  // step_NNNNNNN checkpoints inside epochs (0: none)
  double bucket_mb = 0.25;  // data-parallel runs: gradients are allreduced in buckets of about this size
  std::string out_dir = "runs/default";
};

struct FinetuneSpec {
  BnMode bn = BnMode::Trainable;
  std::vector<std::string> freeze;
  bool reset_head = false;
  int64_t recalibrate_bn_batches = 0;  // > 0: recompute BN running stats over N batches before training
};

struct Recipe {
  uint64_t seed = 0;
  std::string device = "cpu";
  bool channels_last = true;      // CUDA: batches (and so every activation) channels-last
  Precision precision = Precision::Fp32;  // Tf32: CUDA convolutions and matmuls on TF32 tensor cores
  bool cudnn_benchmark = false;    // CUDA: time every convolution algorithm once, keep the fastest
  ops::CpuConvAlgorithm conv_algorithm = ops::CpuConvAlgorithm::Winograd;  // CPU: winograd | direct
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

// [C, H, W] the recipe's model takes (from the dataset kind and model.in_channels).
Shape recipe_input_shape(const Recipe& r);

// The YAML spelling of a choice (for reports such as `bench --json`).
const std::string& choice_name(Precision p);
const std::string& choice_name(ops::CpuConvAlgorithm a);

}  // namespace nf
