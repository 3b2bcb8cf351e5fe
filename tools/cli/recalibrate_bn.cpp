// `normforge recalibrate-bn` (see commands.h).
#include "tools/cli/commands.h"

#include <cstdio>
#include <filesystem>

#include "framework/io/checkpoint.h"
#include "tools/train/factories.h"
#include "tools/train/model_setup.h"

namespace nf {

void run_recalibrate_bn(const Recipe& r, const std::string& checkpoint, int64_t batches, const std::string& out) {
  NF_CHECK(!std::filesystem::exists(out), out + ": already exists (recalibrate-bn writes a new checkpoint folder)");
  const Placement where = configure_runtime(r);
  ModulePtr model = build_recipe_model(r, where, false);
  load_weights(*model, checkpoint);
  auto loader = make_loader(r, "train", true);
  const int64_t done =
      recalibrate_bn(*model, *loader, batches > 0 ? batches : loader->batches_per_epoch(), where);
  io::Checkpoint c;
  if (std::filesystem::is_directory(checkpoint)) c = io::load_checkpoint(checkpoint);
  c.model.clear();
  for (auto& [name, t] : model->state_dict()) c.model[name] = t.to(Device::cpu());
  c.config_yaml = dump_recipe(r);
  io::save_checkpoint(out, c);
  std::printf("%s: BatchNorm statistics recalibrated over %lld batches of %s\n", out.c_str(), (long long)done,
              r.data.root.c_str());
}

}  // namespace nf
