// The recipe's model: building with model.init/freezing, finetune.bn
// training modes and BN recalibration.
#include "tools/train/model_setup.h"

#include <spdlog/spdlog.h>

#include "framework/autograd/autograd.h"
#include "framework/io/checkpoint.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "models/registry.h"
#include "tools/recipe/glob.h"

namespace nf {

namespace {
// "fc." for the built-in models, the last linear layer's name + "." for a listed one:
// the parameters finetune.reset_head re-initializes.
std::string head_prefix(const Module& model) {
  const std::string last = last_linear_name(model);
  return (last.empty() ? "fc" : last) + ".";
}
}  // namespace

void load_weights(Module& model, const std::string& path) {
  try {
    model.load_state_dict(io::load_model_weights(path), true);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

ModulePtr build_recipe_model(const Recipe& r, const Placement& where, bool load_init) {
  ModulePtr model = build_model(r.model);
  if (load_init && r.init) {
    io::TensorDict w = io::load_model_weights(*r.init);
    const std::string head = head_prefix(*model);
    auto in_head = [&](const std::string& name) { return r.finetune.reset_head && name.rfind(head, 0) == 0; };
    for (auto it = w.begin(); it != w.end();) it = in_head(it->first) ? w.erase(it) : std::next(it);
    io::TensorDict own = model->state_dict();
    for (auto& [name, t] : own)
      if (!w.count(name) && !in_head(name)) throw Error(*r.init + ": model.init lacks '" + name + "'");
    try {
      model->load_state_dict(w, !r.finetune.reset_head);
    } catch (const Error& e) {
      throw Error(*r.init + ": " + e.what() +
                  (r.finetune.reset_head ? "" : " (set finetune.reset_head: true to re-initialize " + head + "*)"));
    }
  }
  for (auto& [name, p] : model->named_parameters())
    for (auto& pattern : r.finetune.freeze)
      if (glob_match(pattern, name)) p.set_requires_grad(false);
  if (r.finetune.bn == BnMode::Frozen)
    for (Norm* bn : running_stat_norms(*model)) {
      if (bn->weight().defined()) bn->weight().set_requires_grad(false);
      if (bn->bias().defined()) bn->bias().set_requires_grad(false);
    }
  model->to(where.device);
  return model;
}

void set_training_mode(Module& model, BnMode bn_mode) {
  model.train();
  if (bn_mode == BnMode::Trainable) return;
  for (Norm* bn : running_stat_norms(model)) bn->eval();
}

int64_t recalibrate_bn(Module& model, data::DataLoader& loader, int64_t batches, const Placement& where) {
  const std::vector<Norm*> bns = running_stat_norms(model);
  for (Norm* bn : bns) bn->start_recalibration();
  model.train();
  NoGradGuard no_grad;
  loader.start_epoch(0);
  data::Batch b;
  int64_t done = 0;
  while (done < batches && loader.next(b)) model.forward(place(b.images, where)), ++done;
  for (Norm* bn : bns) bn->end_recalibration();
  spdlog::info("recalibrated BatchNorm statistics over {} batches", done);
  return done;
}

}  // namespace nf
