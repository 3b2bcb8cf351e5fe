// The trainer's checkpoints: what one holds (weights and BN buffers, optimizer state,
// epoch, step, RNG state, best top-1, the position inside the epoch and its running
// sums, the resolved recipe), restoring a run from one, and which are written when:
// epoch_NNNN every trainer.checkpoint_every whole epochs, step_NNNNNNN every
// trainer.checkpoint_every_steps steps and when a stop signal arrives (trainer.keep_last
// of each kind kept), best/ on a new best test top-1, final/ at the end.
// In a data-parallel run only rank 0 writes (the ranks hold the same state: see
// tools/train/distributed.h); a checkpoint records the world size, and restoring it into a
// run of another size is an error.
#pragma once
#include <cstdint>
#include <string>

#include "framework/io/checkpoint.h"
#include "framework/optim/optimizer.h"
#include "layers/module.h"
#include "tools/recipe/recipe.h"
#include "tools/train/run_dir.h"

namespace nf {

// An epoch's training steps so far: sums over the images seen, and the last rate used.
struct EpochStats {
  double loss_sum = 0, lr = 0;
  int64_t correct = 0, seen = 0, batches = 0;  // over every rank (batches: steps)
  // Seconds this rank waited for gradient allreduces over `waited_steps` steps (not
  // saved: after a mid-epoch resume they cover the steps since the resume).
  double allreduce_wait = 0;
  int64_t waited_steps = 0;
};

// Where training stands; a checkpoint saves it and a resumed run starts from it.
struct TrainerPosition {
  int64_t epoch = 0;        // completed epochs
  int64_t step = 0;         // optimizer steps taken
  double best_top1 = -1;    // best test top-1 so far (-1: none yet)
  EpochStats current;       // epoch `epoch` so far (batches done): a step checkpoint's
};

class Checkpointer {
 public:
  Checkpointer(const Recipe& r, const RunDir& run, Module& model, optim::Optimizer& opt);

  // Restores the weights, optimizer state and default RNG from checkpoint folder `dir`,
  // whose files were read into `state` before anything was written; returns where it
  // left off.
  TrainerPosition restore(const std::string& dir, const io::Checkpoint& state) const;
  // After epoch at.epoch: epoch_NNNN (when the epoch ran whole and is a checkpoint
  // epoch, then pruning to keep_last), and best/ when `is_best`.
  void save_epoch(const TrainerPosition& at, bool whole_epoch, bool is_best) const;
  void save_final(const TrainerPosition& at) const;
  // step_NNNNNNN (at.step), then pruning to keep_last; returns its path.
  std::string save_step(const TrainerPosition& at) const;

 private:
  io::Checkpoint make(const TrainerPosition& at) const;

  const Recipe& r_;
  const RunDir& run_;
  Module& model_;
  optim::Optimizer& opt_;
};

}  // namespace nf
