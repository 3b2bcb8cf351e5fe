// The process-wide settings a command runs under, taken from its recipe once, before
// anything is built: CPU threads (oneDNN and our own loops), the CPU convolution
// algorithm, and on CUDA TF32 math and cuDNN benchmarking. Every `normforge` command
// calls configure_runtime exactly once; nothing else in tools/ sets these.
#pragma once
#include "tools/recipe.h"

namespace nf {

// Applies recipe.threads, conv_algorithm, precision and cudnn_benchmark. Fails clearly
// (as recipe_placement does) when the recipe asks for a GPU that is not there.
void configure_runtime(const Recipe& r);

}  // namespace nf
