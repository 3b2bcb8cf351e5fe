// The trainer's side of data parallelism (framework/dist): what `normforge train` and
// `eval` do differently when started by mpirun/srun. With one process every function
// here does nothing (make_grad_reducer returns null).
//   - start: non-root ranks log only warnings and errors; the model's parameters and
//     buffers are broadcast from rank 0 (as DDP does), so every rank starts identical;
//   - each step: gradients averaged by a dist::GradReducer (trainer.bucket_mb buckets);
//   - before each evaluation and checkpoint: BatchNorm running statistics broadcast
//     from rank 0 (each rank updated its own unless model.bn.sync), and a check that
//     every rank holds bitwise the same weights.
#pragma once
#include <memory>

#include "framework/distributed/grad_reducer.h"
#include "layers/module.h"
#include "tools/recipe/recipe.h"

namespace nf {

// Logging for this rank: info on rank 0, warnings and errors elsewhere.
void configure_rank_logging();
// Rank 0's parameters and buffers into every rank's model.
void broadcast_model(Module& model);
// Rank 0's buffers (BatchNorm running statistics) into every rank's model.
void broadcast_buffers(Module& model);
// Throws nf::Error when the ranks' parameters differ (a hash of their bytes compared).
void check_replicas_identical(Module& model);
// The gradient reducer over the model's trainable parameters; null with one process.
std::unique_ptr<dist::GradReducer> make_grad_reducer(const Recipe& r, Module& model);

}  // namespace nf
