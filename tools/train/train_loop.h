// One epoch of training and what follows it: optimizer steps in train mode (with the
// finetune.bn mode) at the schedule's rates, each step's loss checked for divergence
// as it is read back (losses and counts summed over the ranks of a data-parallel run,
// gradients averaged by the reducer), whether the test set is evaluated after an epoch, and the
// epoch's line in metrics.jsonl and the log. Device-agnostic: it only calls Module,
// ops and the optimizer.
#pragma once
#include <cstdint>
#include <optional>

#include "data/loader.h"
#include "framework/distributed/grad_reducer.h"
#include "framework/optim/lr_schedule.h"
#include "framework/optim/optimizer.h"
#include "layers/module.h"
#include "tools/recipe/recipe.h"
#include "tools/train/checkpointing.h"
#include "tools/train/evaluation.h"
#include "tools/train/model_setup.h"
#include "tools/train/progress.h"
#include "tools/train/run_dir.h"

namespace nf {

// Thrown when the loss stops being finite; main() maps it to exit code 3.
struct DivergedError : Error {
  using Error::Error;
};

// Done: trainer.max_steps steps taken when set, else trainer.epochs epochs completed.
bool training_finished(const Recipe& r, const TrainerPosition& at);

class TrainLoop {
 public:
  TrainLoop(const Recipe& r, const Placement& where, Module& model, optim::Optimizer& opt,
            const optim::LrSchedule& schedule, data::DataLoader& loader, const RunDir& run,
            const Checkpointer& checkpoints, Progress& progress, dist::GradReducer* reducer);
  // Trains epoch at.epoch from batch at.current.batches (0, or where a step checkpoint
  // left it) until it ends or training is finished, advancing at.step; writes a step
  // checkpoint every trainer.checkpoint_every_steps steps. Returns the epoch's sums and
  // resets at.current. A non-finite loss throws DivergedError naming the last good
  // checkpoint; a stop signal (tools/train/preemption.h) writes a step checkpoint and throws
  // StopRequested.
  EpochStats train_epoch(TrainerPosition& at);

 private:
  const Recipe& r_;
  const Placement& where_;
  Module& model_;
  optim::Optimizer& opt_;
  const optim::LrSchedule& schedule_;
  data::DataLoader& loader_;
  const RunDir& run_;
  const Checkpointer& checkpoints_;
  Progress& progress_;
  dist::GradReducer* reducer_;  // null: one process
};

// Whether the test set is evaluated after `epoch` completed epochs: every
// trainer.eval_every epochs, and when `last`.
bool evaluation_due(const Recipe& r, int64_t epoch, bool last);

// The epoch's line: appended to metrics.jsonl and logged (by rank 0 only; in a
// data-parallel run with allreduce_wait_ms, rank 0's mean wait per step).
void report_epoch(const RunDir& run, const TrainerPosition& at, const EpochStats& s,
                  const std::optional<EvalResult>& test, double seconds);

}  // namespace nf
