// `normforge bench`: training-step and evaluation throughput of the recipe's model on
// synthetic data of the recipe's input shape (warm-up steps excluded), peak RSS, and
// the achieved GFLOP/s from the model's MACs (a training image counts 3 x MACs x 2
// FLOP: forward, backward-data, backward-weights; an evaluated one 2 x MACs).
#pragma once
#include <cstdint>

#include "tools/recipe.h"

namespace nf {

struct BenchOptions {
  int64_t batch = 0;    // 0: the recipe's data.batch_size
  int64_t iters = 20;   // timed steps (after 3 warm-up steps)
  int64_t threads = -1; // -1: the recipe's threads
  bool json = false;    // one JSON object on the last line of stdout
};

void run_bench(const Recipe& r, const BenchOptions& o);

}  // namespace nf
