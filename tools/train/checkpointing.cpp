// Checkpointer: making, restoring, saving and pruning the trainer's checkpoints.
#include "tools/train/checkpointing.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "framework/core/random.h"
#include "framework/distributed/process_group.h"
#include "tools/train/model_setup.h"

namespace nf {

namespace {

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

Checkpointer::Checkpointer(const Recipe& r, const RunDir& run, Module& model, optim::Optimizer& opt)
    : r_(r), run_(run), model_(model), opt_(opt) {}

TrainerPosition Checkpointer::restore(const std::string& dir, const io::Checkpoint& state) const {
  load_weights(model_, dir);
  io::TensorDict opt_state = state.trainer_state;
  NF_CHECK(opt_state.count("epoch") && state.trainer_meta.count("rng.default"),
           dir + ": trainer_state.safetensors lacks epoch or RNG state");
  const int world = dist::world().size();
  const int written_by = state.trainer_meta.count("world_size") ? std::stoi(state.trainer_meta.at("world_size")) : 1;
  NF_CHECK(written_by == world,
           dir + ": written by a run of " + std::to_string(written_by) + " rank(s); this run has " +
               std::to_string(world) + ". Resume with the same number of ranks (mpirun -np " +
               std::to_string(written_by) + "): each rank's shard of the data and the global batch depend on it");
  TrainerPosition at;
  at.epoch = static_cast<int64_t>(opt_state.at("epoch").item());
  opt_state.erase("epoch");
  opt_.load_state_dict(opt_state);
  at.step = opt_.step_count();
  default_generator().set_state(state.trainer_meta.at("rng.default"));
  const io::Metadata& meta = state.trainer_meta;
  if (meta.count("best_top1")) at.best_top1 = std::stod(meta.at("best_top1"));
  if (meta.count("epoch.batches")) {  // a step checkpoint: inside epoch `epoch`
    at.current.batches = std::stoll(meta.at("epoch.batches"));
    at.current.loss_sum = std::stod(meta.at("epoch.loss_sum"));
    at.current.correct = std::stoll(meta.at("epoch.correct"));
    at.current.seen = std::stoll(meta.at("epoch.seen"));
    at.current.lr = std::stod(meta.at("epoch.lr"));
  }
  spdlog::info("resumed from {} (epoch {}, step {}{})", dir, at.epoch, at.step,
               at.current.batches ? fmt::format(", batch {} of the epoch", at.current.batches) : "");
  return at;
}

io::Checkpoint Checkpointer::make(const TrainerPosition& at) const {
  io::Checkpoint c;
  c.model = model_.state_dict();
  c.trainer_state = opt_.state_dict();
  c.trainer_state["epoch"] = Tensor::scalar(double(at.epoch), DType::I64);
  c.trainer_meta = {{"rng.default", default_generator().state()}, {"best_top1", fmt_double(at.best_top1)},
                    {"step", std::to_string(at.step)}, {"format", "normforge-trainer-1"},
                    {"epoch.batches", std::to_string(at.current.batches)},
                    {"epoch.loss_sum", fmt_double(at.current.loss_sum)},
                    {"epoch.correct", std::to_string(at.current.correct)},
                    {"epoch.seen", std::to_string(at.current.seen)}, {"epoch.lr", fmt_double(at.current.lr)},
                    {"world_size", std::to_string(dist::world().size())}};
  c.config_yaml = dump_recipe(r_);
  return c;
}

void Checkpointer::save_epoch(const TrainerPosition& at, bool whole_epoch, bool is_best) const {
  if (!dist::world().is_root()) return;
  if (whole_epoch && r_.trainer.checkpoint_every > 0 && at.epoch % r_.trainer.checkpoint_every == 0) {
    char name[32];
    std::snprintf(name, sizeof name, "epoch_%04lld", (long long)at.epoch);
    io::save_checkpoint((run_.checkpoints() / name).string(), make(at));
    io::prune_checkpoints(run_.checkpoints().string(), r_.trainer.keep_last);
  }
  if (is_best) io::save_checkpoint((run_.checkpoints() / "best").string(), make(at));
}

std::string Checkpointer::save_step(const TrainerPosition& at) const {
  char name[32];
  std::snprintf(name, sizeof name, "step_%07lld", (long long)at.step);
  const std::string dir = (run_.checkpoints() / name).string();
  if (!dist::world().is_root()) return dir;
  io::save_checkpoint(dir, make(at));
  io::prune_checkpoints(run_.checkpoints().string(), r_.trainer.keep_last, "step_");
  return dir;
}

void Checkpointer::save_final(const TrainerPosition& at) const {
  if (!dist::world().is_root()) return;
  io::save_checkpoint((run_.out() / "final").string(), make(at));
}

}  // namespace nf
