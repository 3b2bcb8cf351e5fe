// train(): the sequence of a training run, each step delegated (see trainer.h).
#include "tools/trainer.h"

#include <spdlog/spdlog.h>

#include "framework/io/checkpoint.h"
#include "tools/checkpointing.h"
#include "tools/evaluation.h"
#include "tools/factories.h"
#include "tools/model_setup.h"
#include "tools/preemption.h"
#include "tools/progress.h"
#include "tools/run_dir.h"
#include "tools/runtime.h"
#include "tools/train_loop.h"

namespace nf {

void train(const Recipe& r, const std::optional<std::string>& resume) {
  configure_runtime(r);
  const Placement where = recipe_placement(r);
  const RunDir run(r.trainer.out_dir);
  const RunLock lock(run.out());  // a second run into this folder is refused from here on
  install_stop_handlers();
  const std::string resume_dir = run.resume_dir(resume);
  io::Checkpoint state;
  if (!resume_dir.empty()) state = io::load_checkpoint(resume_dir);  // before anything is written

  ModulePtr model = build_recipe_model(r, resume_dir.empty());
  auto train_loader = make_loader(r, "train", true);
  auto test_loader = make_loader(r, "test", false);
  const int64_t steps_per_epoch = train_loader->batches_per_epoch();
  auto opt = make_optimizer(r, *model);
  const optim::LrSchedule schedule = make_schedule(r, steps_per_epoch);
  const Checkpointer checkpoints(r, run, *model, *opt);

  TrainerPosition at;
  if (!resume_dir.empty()) {
    at = checkpoints.restore(resume_dir, state);
  } else {
    if (r.finetune.recalibrate_bn_batches > 0)
      recalibrate_bn(*model, *train_loader, r.finetune.recalibrate_bn_batches, where);
    run.move_earlier_run_aside();
  }
  run.open(at.epoch);

  spdlog::info("training {} on {} ({} train / {} test images, {} steps per epoch) -> {}", r.model.name,
               r.data.dataset, train_loader->dataset().size(), test_loader->dataset().size(), steps_per_epoch,
               run.out().string());
  Progress progress(r.trainer.log_every, stderr_is_tty());
  TrainLoop loop(r, where, *model, *opt, schedule, *train_loader, run, checkpoints, progress);
  // at.current.batches > 0: resumed inside an epoch whose end (evaluation, metrics line,
  // best/, epoch checkpoint) is still to do, also when training is finished (max_steps).
  while (!training_finished(r, at) || at.current.batches > 0) {
    const EpochStats stats = loop.train_epoch(at);
    ++at.epoch;
    const bool last = training_finished(r, at);
    std::optional<EvalResult> test;
    if (evaluation_due(r, at.epoch, last)) test = evaluate(*model, *test_loader, where);
    const bool is_best = test && test->top1 > at.best_top1;
    if (is_best) at.best_top1 = test->top1;
    report_epoch(run, at, stats, test, progress.epoch_seconds());  // seconds of training and evaluation
    checkpoints.save_epoch(at, stats.batches == steps_per_epoch, is_best);
  }
  checkpoints.save_final(at);
  spdlog::info("done: {} epochs, {} steps; final checkpoint in {}", at.epoch, at.step, (run.out() / "final").string());
}

}  // namespace nf
