// `normforge export` (see commands.h) and the deployment metadata (export.h).
#include "tools/cli/export.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "framework/io/checkpoint.h"
#include "layers/fusion.h"
#include "tools/cli/commands.h"
#include "tools/cli/onnx_export.h"
#include "tools/train/factories.h"
#include "tools/train/model_setup.h"

namespace nf {

namespace {

int64_t count_batch_norms(const Module& model) {
  int64_t n = 0;
  for (auto& [name, m] : model.named_modules()) n += m->fusion_role() == FusionRole::BatchNorm;
  return n;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> deploy_normalization(const Recipe& r) {
  nlohmann::json mean = nlohmann::json::array(), std = nlohmann::json::array();
  for (const YAML::Node& t : r.resolved["data"]["test_transforms"])
    if (t["normalize"]) {
      mean = t["normalize"]["mean"].as<std::vector<double>>();
      std = t["normalize"]["std"].as<std::vector<double>>();
    }
  return {{"normforge.mean", mean.dump()}, {"normforge.std", std.dump()}};
}

std::vector<std::pair<std::string, std::string>> deploy_metadata(const Recipe& r, bool folded) {
  nlohmann::json classes = nlohmann::json::array();
  std::vector<std::string> names;
  try {  // class names from the dataset files when they are at hand
    names = open_recipe_dataset(r, "test")->class_names();
  } catch (const Error&) {
  }
  for (int64_t c = 0; c < r.model.num_classes; ++c)
    classes.push_back(c < static_cast<int64_t>(names.size()) ? names[c] : std::to_string(c));
  const Shape chw = recipe_input_shape(r);
  auto meta = deploy_normalization(r);
  meta.insert(meta.end(), {
          {"normforge.classes", classes.dump()},
          {"normforge.input", "float32 [N, " + std::to_string(chw[0]) + ", " + std::to_string(chw[1]) + ", " +
                                  std::to_string(chw[2]) + "]: pixels / 255, then (x - mean[c]) / std[c]"},
          {"normforge.model", r.model.name},
          {"normforge.batch_norm_folded", folded ? "true" : "false"}});
  return meta;
}

void run_export(const Recipe& recipe, const std::string& checkpoint, const ExportOptions& o) {
  NF_CHECK(o.format == "onnx" || o.format == "safetensors",
           "export: unknown --format '" + o.format + "' (onnx | safetensors)");
  NF_CHECK(!(o.keep_bn && o.format == "safetensors"),
           "export: --keep-bn applies to --format onnx; the safetensors export is the folded model");
  NF_CHECK(!(o.batch && o.format == "safetensors"), "export: --batch applies to --format onnx");
  NF_CHECK(!std::filesystem::exists(o.out), o.out + ": already exists (export writes a new " +
                                                (o.format == "onnx" ? "file" : "folder") + ")");
  Recipe r = recipe;
  r.device = "cpu";  // exports are made on the CPU, whatever device trained the weights
  ModulePtr model = build_recipe_model(r, configure_runtime(r), false);
  load_weights(*model, checkpoint);
  model->eval();
  const int64_t bns = count_batch_norms(*model);
  if (!o.keep_bn) fold_batch_norms(*model);
  const int64_t folded = bns - count_batch_norms(*model);

  if (o.format == "safetensors") {
    Recipe folded_recipe = r;
    folded_recipe.resolved = YAML::Clone(r.resolved);
    folded_recipe.resolved["model"]["folded"] = true;
    folded_recipe.resolved["model"].remove("init");  // the export is the model; nothing to start from
    io::Checkpoint c;
    for (auto& [name, t] : model->state_dict()) c.model[name] = t;
    c.config_yaml = dump_recipe(folded_recipe);
    io::save_checkpoint(o.out, c);
  } else {
    export_onnx(*model, recipe_input_shape(r), {o.batch, deploy_metadata(r, !o.keep_bn)}, o.out);
  }
  std::printf("%s: %s, %lld of %lld BatchNorms folded into their convolutions\n", o.out.c_str(),
              o.format == "onnx" ? "ONNX opset 13 (checked)" : "folded safetensors + config.yaml", (long long)folded,
              (long long)bns);
}

}  // namespace nf
