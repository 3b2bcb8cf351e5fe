// The subcommands of `normforge`, one file each in tools/cli/ (train is the trainer,
// tools/train/trainer.h). main.cpp parses the command line and calls these.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/recipe/recipe.h"

namespace nf {

// eval.cpp. logits_path: also write every sample's logits there as a float32 .npy
// [samples, classes].
void run_eval(const Recipe& r, const std::string& checkpoint, const std::string& split, bool json,
              const std::string& logits_path = "");

// predict.cpp. What predict runs: a checkpoint (folder or model.safetensors), or an ONNX
// file made by `normforge export`, run through OpenCV's dnn module. Exactly one is set.
struct PredictSource {
  std::string checkpoint, onnx;
};
void run_predict(const Recipe& r, const PredictSource& source, const std::vector<std::string>& images, int64_t topk);

// summary.cpp: every leaf layer with its output shape, parameters and MACs.
void run_summary(const Recipe& r);

// recalibrate_bn.cpp. Recomputes every BatchNorm's running statistics over `batches`
// batches of the recipe's training data (0: one epoch; cumulative average, weights
// fixed, the recipe's augmentation: torch.optim.swa_utils.update_bn) and writes a
// checkpoint folder `out` (which must not exist): the new model.safetensors, the
// source's trainer state when it is a checkpoint folder, the recipe as config.yaml.
void run_recalibrate_bn(const Recipe& r, const std::string& checkpoint, int64_t batches, const std::string& out);

// verify.cpp. `normforge verify PATH`: every checkpoint folder at PATH (a checkpoint
// folder, or a run's out_dir: final/, checkpoints/*) checked against its manifest; one
// line each. Returns the exit code: 0 all verified, 1 any folder bad (or none found),
// 2 some written without a manifest (unverified) and none bad.
int run_verify(const std::string& path);

// bench.cpp. Training-step and evaluation throughput of the recipe's model on synthetic
// data of the recipe's input shape (warm-up steps excluded), peak RSS, and the achieved
// GFLOP/s from the model's MACs (a training image counts 3 x MACs x 2 FLOP: forward,
// backward-data, backward-weights; an evaluated one 2 x MACs).
struct BenchOptions {
  int64_t batch = 0;    // 0: the recipe's data.batch_size
  int64_t iters = 20;   // timed steps (after 3 warm-up steps)
  int64_t threads = -1; // -1: the recipe's threads
  bool json = false;    // one JSON object on the last line of stdout
};
void run_bench(const Recipe& r, const BenchOptions& o);

// export.cpp. A trained checkpoint taken out of normforge for deployment:
//   --format onnx         one .onnx file (onnx_export.h), BatchNorms folded unless --keep-bn
//   --format safetensors  a folder: model.safetensors with every foldable BatchNorm folded
//                         into its convolution (layers/fusion.h: fold_batch_norms) and
//                         config.yaml, the recipe with model.folded: true, which
//                         `normforge eval/predict/bench` run directly
// The output must not exist; it appears complete or not at all.
struct ExportOptions {
  std::string format;            // onnx | safetensors (checked here: a bad one is an nf::Error)
  bool keep_bn = false;          // onnx: every BatchNorm a BatchNormalization node
  std::optional<int64_t> batch;  // onnx: a fixed batch size; nullopt: dynamic
  std::string out;
};
void run_export(const Recipe& r, const std::string& checkpoint, const ExportOptions& o);

}  // namespace nf
