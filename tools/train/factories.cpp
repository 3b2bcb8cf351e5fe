// Recipe -> dataset, loader, optimizer, schedule (see factories.h).
#include "tools/train/factories.h"

#include <cmath>
#include <set>

#include "framework/distributed/process_group.h"
#include "framework/optim/adamw.h"
#include "framework/optim/sgd.h"
#include "layers/norm.h"
#include "tools/recipe/glob.h"

namespace nf {

std::shared_ptr<data::Dataset> open_recipe_dataset(const Recipe& r, const std::string& split) {
  return data::open_dataset(r.data.dataset, r.data.root, split, r.model.in_channels, r.data.image_size,
                            r.data.skip_bad_images);
}

std::unique_ptr<data::DataLoader> make_loader(const Recipe& r, const std::string& split, bool for_training) {
  auto ds = open_recipe_dataset(r, split);
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
  o.rank = dist::world().rank(), o.world = dist::world().size();
  o.shard = for_training ? data::Shard::Samples : data::Shard::Batches;
  return std::make_unique<data::DataLoader>(ds, o);
}

std::unique_ptr<optim::Optimizer> make_optimizer(const Recipe& r, Module& model) {
  optim::ParamGroup decay{{}, r.optimizer.lr, r.optimizer.weight_decay}, no_decay{{}, r.optimizer.lr, 0.0};
  std::set<std::string> bn_params;
  for (auto& [mname, norm] : named_norms(model))  // every normalization layer's affine parameters
    for (auto& [pname, p] : norm->named_parameters()) bn_params.insert(mname + "." + pname);
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

optim::LrSchedule make_schedule(const Recipe& r, int64_t steps_per_epoch) {
  optim::ScheduleOptions o = r.schedule.options;
  o.base_lr = r.optimizer.lr;
  o.total_steps = r.trainer.max_steps ? *r.trainer.max_steps : r.trainer.epochs * steps_per_epoch;
  o.steps_per_epoch = steps_per_epoch;
  o.warmup_steps = std::llround(r.schedule.warmup_epochs * steps_per_epoch);
  return optim::LrSchedule(o);
}

}  // namespace nf
