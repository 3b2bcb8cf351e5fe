// TrainLoop::train_epoch (the step, read-back, divergence), evaluation_due, report_epoch.
#include "tools/train/train_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/distributed/process_group.h"
#include "framework/ops/loss.h"
#include "framework/ops/metrics.h"
#include "tools/train/distributed.h"
#include "tools/train/preemption.h"

namespace nf {

namespace {

// A step's loss and top-1 count, still on the device.
struct Pending {
  Tensor loss, correct;
  int64_t n, index, step;
};

// Reads the pending steps back into the epoch's sums (and the progress line): in a
// data-parallel run, each step's loss, top-1 count and images summed over the ranks. A
// non-finite loss stops training (on every rank alike: the sums are global).
void read_back(std::vector<Pending>& pending, EpochStats& s, int64_t epoch, Progress& progress, const RunDir& run) {
  std::vector<double> sums;
  for (const Pending& p : pending)
    sums.insert(sums.end(), {p.loss.item() * p.n, static_cast<double>(p.correct.item()), static_cast<double>(p.n)});
  dist::world().allreduce_sum(sums.data(), static_cast<int64_t>(sums.size()));
  for (size_t i = 0; i < pending.size(); ++i) {
    const double loss_sum = sums[3 * i], correct = sums[3 * i + 1], n = sums[3 * i + 2];
    const double lv = loss_sum / n;
    if (!std::isfinite(lv))
      throw DivergedError("loss is " + std::string(std::isnan(lv) ? "NaN" : "infinite") + " at epoch " +
                          std::to_string(epoch + 1) + ", step " + std::to_string(pending[i].step) +
                          "; training stopped (last good checkpoint: " + run.last_checkpoint() + ")");
    s.loss_sum += loss_sum;
    s.correct += static_cast<int64_t>(correct);
    s.seen += static_cast<int64_t>(n);
    progress.step(pending[i].index, s.loss_sum / s.seen, double(s.correct) / s.seen, s.lr, static_cast<int64_t>(n));
  }
  pending.clear();
}

}  // namespace

bool training_finished(const Recipe& r, const TrainerPosition& at) {
  return r.trainer.max_steps ? at.step >= *r.trainer.max_steps : at.epoch >= r.trainer.epochs;
}

TrainLoop::TrainLoop(const Recipe& r, const Placement& where, Module& model, optim::Optimizer& opt,
                     const optim::LrSchedule& schedule, data::DataLoader& loader, const RunDir& run,
                     const Checkpointer& checkpoints, Progress& progress, dist::GradReducer* reducer)
    : r_(r), where_(where), model_(model), opt_(opt), schedule_(schedule), loader_(loader), run_(run),
      checkpoints_(checkpoints), progress_(progress), reducer_(reducer) {}

EpochStats TrainLoop::train_epoch(TrainerPosition& at) {
  set_training_mode(model_, r_.finetune.bn);
  loader_.start_epoch(at.epoch, at.current.batches);
  progress_.begin_epoch(at.epoch, r_.trainer.max_steps ? 0 : r_.trainer.epochs, loader_.batches_per_epoch());
  EpochStats& s = at.current;
  if (!s.batches) s.lr = opt_.lr();
  // Each step's loss and top-1 count stay on the device until read back: every step
  // on the CPU, once per log interval on CUDA (a read waits for the GPU to catch up).
  std::vector<Pending> pending;
  const size_t read_every =
      where_.device.is_cpu() ? 1 : static_cast<size_t>(std::max<int64_t>(r_.trainer.log_every, 1));
  data::Batch b;
  while (!training_finished(r_, at) && loader_.next(b)) {
    // Before the step, and agreed by every rank: the checkpoint resumes at this batch.
    if (const int sig = static_cast<int>(dist::world().allreduce_max(stop_signal()))) {
      read_back(pending, s, at.epoch, progress_, run_);
      progress_.end_epoch();
      const std::string dir = checkpoints_.save_step(at);
      throw StopRequested(sig, std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + ": stopped at epoch " +
                                   std::to_string(at.epoch + 1) + ", step " + std::to_string(at.step) +
                                   "; checkpoint " + dir + " (continue with --resume auto)");
    }
    s.lr = schedule_.lr_at(at.step);
    opt_.set_lr(s.lr);
    const Tensor labels = place(b.labels, where_);
    Tensor logits = model_.forward(place(b.images, where_));
    Tensor loss = ops::cross_entropy(logits, labels, r_.label_smoothing);
    opt_.zero_grad();
    loss.backward();
    if (reducer_) {
      reducer_->finish();
      s.allreduce_wait += reducer_->last_wait_seconds();
      ++s.waited_steps;
    }
    opt_.step();
    ++at.step, ++s.batches;
    {
      NoGradGuard no_grad;
      pending.push_back({loss.detach(), ops::topk_correct_count(logits.detach(), labels, 1), b.labels.numel(),
                         b.index, at.step});
    }
    if (pending.size() >= read_every) read_back(pending, s, at.epoch, progress_, run_);
#ifndef NDEBUG
    if (at.step % std::max<int64_t>(r_.trainer.log_every, 1) == 0) check_replicas_identical(model_);  // also each epoch
#endif
    const int64_t every = r_.trainer.checkpoint_every_steps;
    if (every > 0 && at.step % every == 0) {
      read_back(pending, s, at.epoch, progress_, run_);
      checkpoints_.save_step(at);
    }
  }
  read_back(pending, s, at.epoch, progress_, run_);
  progress_.end_epoch();
  const EpochStats done = s;
  at.current = {};
  return done;
}

bool evaluation_due(const Recipe& r, int64_t epoch, bool last) {
  return (r.trainer.eval_every > 0 && epoch % r.trainer.eval_every == 0) || last;
}

void report_epoch(const RunDir& run, const TrainerPosition& at, const EpochStats& s,
                  const std::optional<EvalResult>& test, double seconds) {
  if (!dist::world().is_root()) return;
  const int64_t seen = std::max<int64_t>(s.seen, 1);
  nlohmann::json line = {{"epoch", at.epoch}, {"step", at.step}, {"lr", s.lr}, {"train_loss", s.loss_sum / seen},
                         {"train_top1", double(s.correct) / seen}, {"test_loss", nullptr}, {"test_top1", nullptr},
                         {"test_top5", nullptr}, {"seconds", seconds}};
  std::string test_msg;
  if (test) {
    line["test_loss"] = test->loss, line["test_top1"] = test->top1, line["test_top5"] = test->top5;
    test_msg = fmt::format(" | test loss {:.4f} top1 {:.2f}% top5 {:.2f}%", test->loss, 100 * test->top1,
                           100 * test->top5);
  }
  spdlog::info("epoch {} step {} | train loss {:.4f} top1 {:.2f}%{} | lr {:.5f} | {:.1f}s", at.epoch, at.step,
               line["train_loss"].get<double>(), 100 * line["train_top1"].get<double>(), test_msg, s.lr, seconds);
  if (dist::world().distributed())
    line["allreduce_wait_ms"] = 1e3 * s.allreduce_wait / std::max<int64_t>(s.waited_steps, 1);  // per step, rank 0
  run.append_metrics(line);
}

}  // namespace nf
