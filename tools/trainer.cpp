#include "tools/trainer.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/core/random.h"
#include "framework/io/checkpoint.h"
#include "framework/ops/loss.h"
#include "framework/ops/metrics.h"
#include "framework/optim/adamw.h"
#include "framework/optim/lr_schedule.h"
#include "framework/optim/sgd.h"
#include "layers/batch_norm.h"
#include "tools/glob.h"
#include "tools/model_setup.h"
#include "tools/progress.h"

namespace fs = std::filesystem;

namespace nf {

std::unique_ptr<data::DataLoader> make_loader(const Recipe& r, const std::string& split, bool for_training) {
  auto ds = data::open_dataset(r.data.dataset, r.data.root, split, r.model.in_channels, r.data.image_size);
  NF_CHECK(ds->sample_shape()[0] == r.model.in_channels,
           r.file + ": model.in_channels is " + std::to_string(r.model.in_channels) + " but " + r.data.dataset +
               " images have " + std::to_string(ds->sample_shape()[0]) + " channels");
  NF_CHECK(ds->num_classes() <= r.model.num_classes,
           r.file + ": model.num_classes is " + std::to_string(r.model.num_classes) + " but " + r.data.dataset +
               " has " + std::to_string(ds->num_classes()) + " classes");
  data::LoaderOptions o;
  o.batch_size = for_training ? r.data.batch_size : r.data.eval_batch_size;
  o.shuffle = for_training && r.data.shuffle;
  o.workers = static_cast<int>(r.data.workers);
  o.seed = r.seed;
  o.transforms = for_training ? r.data.train_transforms : r.data.test_transforms;
  return std::make_unique<data::DataLoader>(ds, o);
}

EvalResult evaluate(Module& model, data::DataLoader& loader, const Placement& where) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  // Per-batch results stay on the device until the end: one wait for the GPU, not one per batch.
  struct Batch {
    Tensor loss, top1, top5;
    int64_t n;
  };
  std::vector<Batch> batches;
  loader.start_epoch(0);
  data::Batch b;
  while (loader.next(b)) {
    const Tensor labels = place(b.labels, where);
    Tensor logits = model.forward(place(b.images, where));
    batches.push_back({ops::cross_entropy(logits, labels), ops::topk_correct_count(logits, labels, 1),
                       ops::topk_correct_count(logits, labels, 5), b.labels.numel()});
  }
  if (was_training) model.train();
  EvalResult res;
  double loss_sum = 0;
  int64_t c1 = 0, c5 = 0;
  for (const Batch& e : batches) {
    loss_sum += e.loss.item() * e.n;
    c1 += static_cast<int64_t>(e.top1.item());
    c5 += static_cast<int64_t>(e.top5.item());
    res.samples += e.n;
  }
  NF_CHECK(res.samples > 0, "evaluation dataset is empty");
  res.loss = loss_sum / res.samples;
  res.top1 = double(c1) / res.samples;
  res.top5 = double(c5) / res.samples;
  return res;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const Recipe& r, Module& model) {
  optim::ParamGroup decay{{}, r.optimizer.lr, r.optimizer.weight_decay}, no_decay{{}, r.optimizer.lr, 0.0};
  std::set<std::string> bn_params;
  for (auto& [mname, m] : model.named_modules())
    if (dynamic_cast<BatchNorm*>(m.get()))
      for (auto& [pname, p] : m->named_parameters()) bn_params.insert(mname + "." + pname);
  for (auto& [name, p] : model.named_parameters()) {
    if (!p.requires_grad()) continue;
    bool exempt = false;
    for (const std::string& pat : r.optimizer.no_weight_decay)
      exempt |= (pat == "bn" && bn_params.count(name)) ||
                (pat == "bias" && name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0) ||
                glob_match(pat, name);
    (exempt ? no_decay : decay).params.emplace_back(name, p);
  }
  NF_CHECK(!decay.params.empty() || !no_decay.params.empty(),
           r.file + ": every parameter is frozen (finetune.freeze / finetune.bn): nothing to train");
  std::vector<optim::ParamGroup> groups;
  for (auto* g : {&decay, &no_decay})
    if (!g->params.empty()) groups.push_back(*g);
  if (r.optimizer.name == OptimizerName::AdamW) {
    optim::AdamWOptions o{r.optimizer.lr, r.optimizer.beta1, r.optimizer.beta2, r.optimizer.eps, r.optimizer.weight_decay};
    return std::make_unique<optim::AdamW>(groups, o);
  }
  optim::SgdOptions o{r.optimizer.lr, r.optimizer.momentum, r.optimizer.dampening, r.optimizer.weight_decay,
                      r.optimizer.nesterov};
  return std::make_unique<optim::SGD>(groups, o);
}

namespace {

optim::LrSchedule make_schedule(const Recipe& r, int64_t steps_per_epoch, int64_t total_steps) {
  optim::ScheduleOptions o = r.schedule.options;
  o.base_lr = r.optimizer.lr;
  o.total_steps = total_steps;
  o.steps_per_epoch = steps_per_epoch;
  o.warmup_steps = std::llround(r.schedule.warmup_epochs * steps_per_epoch);
  return optim::LrSchedule(o);
}

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Recomputes BN running statistics over `batches` training batches with weights fixed
// (cumulative average, as a momentum of None does in PyTorch).
void recalibrate_bn(Module& model, data::DataLoader& loader, int64_t batches) {
  std::vector<std::pair<BatchNorm*, std::optional<double>>> bns;
  for (auto& [n, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm*>(m.get())) {
      bns.emplace_back(bn, bn->options().momentum);
      bn->recalibrate_reset();
      bn->set_momentum(std::nullopt);
    }
  model.train();
  NoGradGuard no_grad;
  loader.start_epoch(0);
  data::Batch b;
  int64_t done = 0;
  while (done < batches && loader.next(b)) model.forward(b.images), ++done;
  for (auto& [bn, m] : bns) bn->set_momentum(m);
  spdlog::info("recalibrated BatchNorm statistics over {} batches", done);
}

}  // namespace

void train(const Recipe& r, const std::optional<std::string>& resume) {
  cpu::set_num_threads(static_cast<int>(r.threads));
  const Placement where = recipe_placement(r);

  const fs::path out(r.trainer.out_dir), ckpt_dir = out / "checkpoints";
  std::string resume_dir;
  if (resume == "auto") {
    auto all = io::list_checkpoints(ckpt_dir.string());
    if (all.empty())
      spdlog::info("--resume auto: no checkpoint in {}, starting fresh", ckpt_dir.string());
    else
      resume_dir = all.back();
  } else if (resume) {
    resume_dir = *resume;
  }
  io::Checkpoint state;
  if (!resume_dir.empty()) state = io::load_checkpoint(resume_dir);  // before anything is written

  ModulePtr model = build_recipe_model(r, resume_dir.empty());
  auto train_loader = make_loader(r, "train", true);
  auto test_loader = make_loader(r, "test", false);
  const int64_t spe = train_loader->batches_per_epoch();
  const int64_t total_steps = r.trainer.max_steps ? *r.trainer.max_steps : r.trainer.epochs * spe;
  auto opt = make_optimizer(r, *model);
  optim::LrSchedule schedule = make_schedule(r, spe, total_steps);

  int64_t epoch = 0, step = 0;
  double best_top1 = -1;
  if (!resume_dir.empty()) {
    load_weights(*model, resume_dir);
    io::TensorDict opt_state = state.trainer_state;
    NF_CHECK(opt_state.count("epoch") && state.trainer_meta.count("rng.default"),
             resume_dir + ": trainer_state.safetensors lacks epoch or RNG state");
    epoch = static_cast<int64_t>(opt_state.at("epoch").item());
    opt_state.erase("epoch");
    opt->load_state_dict(opt_state);
    step = opt->step_count();
    default_generator().set_state(state.trainer_meta.at("rng.default"));
    if (state.trainer_meta.count("best_top1")) best_top1 = std::stod(state.trainer_meta.at("best_top1"));
    spdlog::info("resumed from {} (epoch {}, step {})", resume_dir, epoch, step);
  } else if (r.finetune.recalibrate_bn_batches > 0) {
    recalibrate_bn(*model, *train_loader, r.finetune.recalibrate_bn_batches);
  }

  if (resume_dir.empty() && (fs::exists(out / "metrics.jsonl") || fs::exists(ckpt_dir) || fs::exists(out / "final"))) {
    // A fresh run never overwrites an earlier one: it is moved aside, whole.
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    fs::path aside = out.string() + ".prev-" + stamp;
    for (int i = 1; fs::exists(aside); ++i) aside = out.string() + ".prev-" + stamp + "-" + std::to_string(i);
    fs::rename(out, aside);
    spdlog::info("{} held an earlier run: moved it to {} (use --resume auto to continue a run)", out.string(),
                 aside.string());
  }
  fs::create_directories(ckpt_dir);
  {  // metrics.jsonl keeps the epochs up to the resume point
    std::vector<std::string> keep;
    std::ifstream in(out / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("epoch") && j["epoch"].is_number() && j["epoch"].get<int64_t>() <= epoch)
        keep.push_back(line);
    }
    std::ofstream o(out / "metrics.jsonl", std::ios::trunc);
    for (auto& l : keep) o << l << "\n";
  }

  auto make_checkpoint = [&](int64_t completed_epoch) {
    io::Checkpoint c;
    c.model = model->state_dict();
    c.trainer_state = opt->state_dict();
    c.trainer_state["epoch"] = Tensor::scalar(double(completed_epoch), DType::I64);
    c.trainer_meta = {{"rng.default", default_generator().state()}, {"best_top1", fmt_double(best_top1)},
                      {"step", std::to_string(step)}, {"format", "normforge-trainer-1"}};
    c.config_yaml = dump_recipe(r);
    return c;
  };

  spdlog::info("training {} on {} ({} train / {} test images, {} steps per epoch) -> {}", r.model.name,
               r.data.dataset, train_loader->dataset().size(), test_loader->dataset().size(), spe, out.string());
  Progress progress(r.trainer.log_every, stderr_is_tty());
  auto finished = [&] { return r.trainer.max_steps ? step >= *r.trainer.max_steps : epoch >= r.trainer.epochs; };
  while (!finished()) {
    set_training_mode(*model, r.finetune.bn);
    train_loader->start_epoch(epoch);
    progress.begin_epoch(epoch, r.trainer.max_steps ? 0 : r.trainer.epochs, spe);
    double loss_sum = 0, lr = opt->lr();
    int64_t correct = 0, seen = 0, batches = 0;
    // Each step's loss and top-1 count stay on the device until read back: every step
    // on the CPU, once per log interval on CUDA (a read waits for the GPU to catch up).
    struct Pending {
      Tensor loss, correct;
      int64_t n, index, step;
    };
    std::vector<Pending> pending;
    const size_t read_every = where.device.is_cpu() ? 1 : static_cast<size_t>(std::max<int64_t>(r.trainer.log_every, 1));
    auto read_back = [&] {
      for (const Pending& p : pending) {
        const double lv = p.loss.item();
        if (!std::isfinite(lv)) {
          auto last = io::list_checkpoints(ckpt_dir.string());
          throw DivergedError("loss is " + std::string(std::isnan(lv) ? "NaN" : "infinite") + " at epoch " +
                              std::to_string(epoch + 1) + ", step " + std::to_string(p.step) +
                              "; training stopped (last good checkpoint: " +
                              (last.empty() ? std::string("none") : last.back()) + ")");
        }
        loss_sum += lv * p.n;
        correct += static_cast<int64_t>(p.correct.item());
        seen += p.n;
        progress.step(p.index, loss_sum / seen, double(correct) / seen, lr, p.n);
      }
      pending.clear();
    };
    data::Batch b;
    while (!finished() && train_loader->next(b)) {
      lr = schedule.lr_at(step);
      opt->set_lr(lr);
      const Tensor labels = place(b.labels, where);
      Tensor logits = model->forward(place(b.images, where));
      Tensor loss = ops::cross_entropy(logits, labels, r.label_smoothing);
      opt->zero_grad();
      loss.backward();
      opt->step();
      ++step, ++batches;
      {
        NoGradGuard no_grad;
        pending.push_back({loss.detach(), ops::topk_correct_count(logits.detach(), labels, 1), b.labels.numel(),
                           b.index, step});
      }
      if (pending.size() >= read_every) read_back();
    }
    read_back();
    progress.end_epoch();
    const bool whole_epoch = batches == spe;
    const bool last = finished();
    ++epoch;

    nlohmann::json line = {{"epoch", epoch}, {"step", step}, {"lr", lr}, {"train_loss", loss_sum / std::max<int64_t>(seen, 1)},
                           {"train_top1", double(correct) / std::max<int64_t>(seen, 1)}, {"test_loss", nullptr},
                           {"test_top1", nullptr}, {"test_top5", nullptr}};
    std::string test_msg;
    bool is_best = false;
    if ((r.trainer.eval_every > 0 && epoch % r.trainer.eval_every == 0) || last) {
      EvalResult e = evaluate(*model, *test_loader, where);
      line["test_loss"] = e.loss, line["test_top1"] = e.top1, line["test_top5"] = e.top5;
      test_msg = fmt::format(" | test loss {:.4f} top1 {:.2f}% top5 {:.2f}%", e.loss, 100 * e.top1, 100 * e.top5);
      if (e.top1 > best_top1) best_top1 = e.top1, is_best = true;
    }
    const double seconds = progress.epoch_seconds();  // training and evaluation
    line["seconds"] = seconds;
    spdlog::info("epoch {} step {} | train loss {:.4f} top1 {:.2f}%{} | lr {:.5f} | {:.1f}s", epoch, step,
                 line["train_loss"].get<double>(), 100 * line["train_top1"].get<double>(), test_msg, lr, seconds);
    std::ofstream(out / "metrics.jsonl", std::ios::app) << line.dump() << "\n";

    if (whole_epoch && r.trainer.checkpoint_every > 0 && epoch % r.trainer.checkpoint_every == 0) {
      char name[32];
      std::snprintf(name, sizeof name, "epoch_%04lld", (long long)epoch);
      io::save_checkpoint((ckpt_dir / name).string(), make_checkpoint(epoch));
      io::prune_checkpoints(ckpt_dir.string(), r.trainer.keep_last);
    }
    if (is_best) io::save_checkpoint((ckpt_dir / "best").string(), make_checkpoint(epoch));
  }
  io::save_checkpoint((out / "final").string(), make_checkpoint(epoch));
  spdlog::info("done: {} epochs, {} steps; final checkpoint in {}", epoch, step, (out / "final").string());
}

}  // namespace nf
