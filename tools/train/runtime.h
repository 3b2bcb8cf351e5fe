// The process-wide settings a command runs under, taken from its recipe once, before
// anything is built: the seed of the default generator, CPU threads (oneDNN and our own
// loops), the CPU convolution algorithm, and on CUDA TF32 math and cuDNN benchmarking;
// and where the recipe runs (its Placement), computed here once. Every `normforge`
// command calls configure_runtime exactly once; nothing else in tools/ sets these.
#pragma once
#include "tools/recipe/recipe.h"

namespace nf {

// Where a recipe runs: its device and, on CUDA, whether batches go channels-last.
struct Placement {
  Device device;
  bool channels_last = false;
};

// Seeds the default generator with recipe.seed, applies recipe.threads,
// conv_algorithm, precision and cudnn_benchmark, and returns the placement. Fails
// clearly when the recipe asks for a GPU that is not there. In a data-parallel run on
// CUDA, rank r takes GPU (local rank % GPUs of its machine).
Placement configure_runtime(const Recipe& r);

// A batch tensor on the placement's device (the upload is asynchronous on CUDA);
// 4-d images go channels-last when the placement says so.
Tensor place(const Tensor& t, const Placement& p);

}  // namespace nf
