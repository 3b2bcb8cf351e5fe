// train(): the sequence of a training run, each step delegated (see trainer.h).
#include "tools/train/trainer.h"

#include <spdlog/spdlog.h>

#include "framework/distributed/process_group.h"
#include "framework/io/checkpoint.h"
#include "tools/train/checkpointing.h"
#include "tools/train/distributed.h"
#include "tools/train/evaluation.h"
#include "tools/train/factories.h"
#include "tools/train/model_setup.h"
#include "tools/train/preemption.h"
#include "tools/train/progress.h"
#include "tools/train/run_dir.h"
#include "tools/train/runtime.h"
#include "tools/train/train_loop.h"

namespace nf {

void train(const Recipe& r, const std::optional<std::string>& resume) {
  const dist::ProcessGroup& group = dist::world();
  const Placement where = configure_runtime(r);
  const RunDir run(r.trainer.out_dir);
  // Only rank 0 writes into out_dir: it alone holds the lock and picks the checkpoint
  // to resume from (the others read that same folder: a filesystem every rank sees).
  std::optional<RunLock> lock;
  if (group.is_root()) lock.emplace(run.out());  // a second run into this folder is refused from here on
  install_stop_handlers();
  const std::string resume_dir = group.broadcast(group.is_root() ? run.resume_dir(resume) : std::string());
  io::Checkpoint state;
  if (!resume_dir.empty()) state = io::load_checkpoint(resume_dir);  // before anything is written

  ModulePtr model = build_recipe_model(r, where, resume_dir.empty());
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
    if (group.is_root()) run.move_earlier_run_aside();
  }
  if (group.is_root()) run.open(at.epoch);
  broadcast_model(*model);  // every rank starts from rank 0's weights and statistics
  const std::unique_ptr<dist::GradReducer> reducer = make_grad_reducer(r, *model);
  if (group.distributed())
    spdlog::info("data parallel: {} ranks x batch {} = global batch {}; {} gradient buckets; BatchNorm {}",
                 group.size(), r.data.batch_size, group.size() * r.data.batch_size, reducer->buckets(),
                 r.model.bn.sync ? "synchronized (model.bn.sync)" : "per rank (running statistics from rank 0)");

  spdlog::info("training {} on {} ({} train / {} test images, {} steps per epoch) -> {}", r.model.name,
               r.data.dataset, train_loader->dataset().size(), test_loader->dataset().size(), steps_per_epoch,
               run.out().string());
  Progress progress(r.trainer.log_every, stderr_is_tty(), group.is_root());
  TrainLoop loop(r, where, *model, *opt, schedule, *train_loader, run, checkpoints, progress, reducer.get());
  // at.current.batches > 0: resumed inside an epoch whose end (evaluation, metrics line,
  // best/, epoch checkpoint) is still to do, also when training is finished (max_steps).
  while (!training_finished(r, at) || at.current.batches > 0) {
    const EpochStats stats = loop.train_epoch(at);
    ++at.epoch;
    const bool last = training_finished(r, at);
    broadcast_buffers(*model);  // the running statistics evaluated and saved are rank 0's
    check_replicas_identical(*model);
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
