#include "tools/recipe/recipe.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "framework/core/error.h"
#include "tools/recipe/recipe_layers.h"
#include "tools/recipe/yaml_section.h"

namespace nf {

namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

const Choices<Precision> kPrecisions = {{"fp32", Precision::Fp32}, {"tf32", Precision::Tf32}};
const Choices<ops::CpuConvAlgorithm> kConvAlgorithms = {{"winograd", ops::CpuConvAlgorithm::Winograd},
                                                        {"direct", ops::CpuConvAlgorithm::Direct}};
const Choices<optim::ScheduleName> kSchedules = [] {
  using S = optim::ScheduleName;
  Choices<S> c;
  for (S n : {S::Constant, S::Step, S::MultiStep, S::Cosine, S::OneCycle}) c.emplace_back(optim::schedule_name(n), n);
  return c;
}();
const Choices<OptimizerName> kOptimizers = {{"sgd", OptimizerName::Sgd}, {"adamw", OptimizerName::AdamW}};
const Choices<BnMode> kBnModes = {
    {"trainable", BnMode::Trainable}, {"frozen", BnMode::Frozen}, {"frozen_stats", BnMode::FrozenStats}};

template <class E>
const std::string& name_of(const Choices<E>& choices, E v) {
  return std::find_if(choices.begin(), choices.end(), [&](const auto& c) { return c.second == v; })->first;
}

// A transform list: [{random_crop: {size: 32, padding: 4}}, {hflip: {p: 0.5}}, ...].
data::Compose parse_transforms(YamlSection& parent, const std::string& key) {
  YAML::Node list = parent.list(key);
  data::Compose out;
  for (size_t i = 0; i < list.size(); ++i) {
    YAML::Node item = list[i];
    const std::string what = parent.key_path(key) + "[" + std::to_string(i) + "]";
    if (!item.IsMap() || item.size() != 1)
      parent.fail_at(item, what, "expected one transform such as {hflip: {p: 0.5}}");
    const std::string name = item.begin()->first.Scalar();
    const YAML::Node args_node = item.begin()->second;
    if (args_node.IsDefined() && !args_node.IsNull() && !args_node.IsMap())
      parent.fail_at(args_node, what + "." + name, "arguments must be a map such as {p: 0.5}");
    YamlSection args(args_node, what + "." + name, parent.origin());
    if (name == "random_crop") {
      out.add<data::RandomCrop>(data::RandomCropOptions{args.get_int("size", 32, 1, 1 << 16), args.get_int("padding", 0, 0, 1 << 16)});
    } else if (name == "hflip") {
      out.add<data::HorizontalFlip>(data::HorizontalFlipOptions{args.get_float("p", 0.5, 0, 1)});
    } else if (name == "normalize") {
      auto mean = args.get_float_list("mean", {}), std = args.get_float_list("std", {});
      if (mean.empty() || mean.size() != std.size()) args.fail("mean", "mean and std must be non-empty lists of the same length");
      for (double s : std)
        if (!(s > 0)) args.fail("std", "every std must be > 0");
      out.add<data::Normalize>(data::NormalizeOptions{std::vector<float>(mean.begin(), mean.end()),
                                                      std::vector<float>(std.begin(), std.end())});
    } else if (name == "cutout") {
      out.add<data::Cutout>(data::CutoutOptions{args.get_int("size", 16, 1, 1 << 16)});
    } else {
      parent.fail_at(item, what, "unknown transform '" + name + "' (random_crop | hflip | normalize | cutout)");
    }
    args.finish();
  }
  return out;
}

std::string default_root(const std::string& dataset) {
  if (dataset == "fashion_mnist") return "/usr/share/datasets/fashion-mnist";
  if (dataset == "cifar10") return "data/cifar-10-batches-bin";
  if (dataset == "cifar100") return "data/cifar-100-binary";
  return "data/" + dataset;
}

}  // namespace

Recipe parse_recipe(const std::string& file, const std::vector<std::string>& sets) {
  auto origin = std::make_shared<RecipeOrigin>();
  Recipe r;
  r.file = file;
  r.resolved = load_recipe_yaml(file, sets, *origin);
  YamlSection root(r.resolved, "", origin);

  r.seed = static_cast<uint64_t>(root.get_int("seed", 0, 0, kMaxInt));
  r.device = root.get_string("device", "cpu");
  if (r.device != "cpu" && r.device != "cuda" && r.device.rfind("cuda:", 0) != 0)
    root.fail("device", "'" + r.device + "' is not one of cpu | cuda | cuda:N");
  r.channels_last = root.get_bool("channels_last", true);
  r.precision = root.get_enum("precision", "fp32", kPrecisions);
  r.cudnn_benchmark = root.get_bool("cudnn_benchmark", false);
  r.conv_algorithm = root.get_enum("conv_algorithm", "winograd", kConvAlgorithms);
  r.threads = root.get_int("threads", 0, 0, 1024);

  YamlSection m = root.section("model");
  r.model.num_classes = m.get_int("num_classes", 10, 1, 1 << 20);
  r.model.in_channels = m.get_int("in_channels", 3, 1, 1 << 16);
  YamlSection bn = m.section("bn");
  r.model.bn.momentum = bn.get_optional_float("momentum", 0.1, 0.0, 1.0);
  r.model.bn.eps = bn.get_float("eps", 1e-5, 1e-12, 1.0);
  r.model.bn.sync = bn.get_bool("sync", false);
  bn.finish();
  if (m.has("layers")) {  // the network as a list; the built-in models' keys do not apply
    if (m.has("name")) m.fail("name", "give model.name (a built-in model) or model.layers (your own), not both");
    for (const char* key : {"shortcut", "dropout", "block_dropout"})
      if (m.has(key)) m.fail(key, "belongs to the built-in models; with model.layers, write it into the list");
    r.model.name = "layers";
    r.model.layers = parse_layers(m, r.model);
  } else {
    r.model.name = m.get_string("name", "resnet20");
    r.model.shortcut = m.get_choice("shortcut", "projection", {"projection", "pad"});
    r.model.dropout = m.get_float("dropout", 0.0, 0.0, 0.999);
    r.model.block_dropout = m.get_float("block_dropout", 0.0, 0.0, 0.999);
  }
  r.init = m.get_optional_string("init");
  r.model.folded = m.get_bool("folded", false);
  m.finish();

  YamlSection d = root.section("data");
  r.data.dataset = d.get_choice("dataset", "cifar10", {"cifar10", "cifar100", "fashion_mnist", "mnist", "image_folder"});
  r.data.root = d.get_string("root", default_root(r.data.dataset));
  r.data.batch_size = d.get_int("batch_size", 128, 1, 1 << 20);
  r.data.eval_batch_size = d.get_int("eval_batch_size", 256, 1, 1 << 20);
  r.data.workers = d.get_int("workers", 2, 0, 64);
  r.data.shuffle = d.get_bool("shuffle", true);
  r.data.image_size = d.get_int("image_size", 32, 1, 4096);
  r.data.skip_bad_images = d.get_bool("skip_bad_images", false);
  const std::string& ds = r.data.dataset;
  r.model.input_size = (ds == "fashion_mnist" || ds == "mnist") ? 28 : ds == "image_folder" ? r.data.image_size : 32;
  r.data.train_transforms = parse_transforms(d, "train_transforms");
  r.data.test_transforms = parse_transforms(d, "test_transforms");
  d.finish();

  YamlSection o = root.section("optimizer");
  r.optimizer.name = o.get_enum("name", "sgd", kOptimizers);
  const bool sgd = r.optimizer.name == OptimizerName::Sgd;
  r.optimizer.lr = o.get_float("lr", sgd ? 0.1 : 1e-3, 0.0, 1e3);
  r.optimizer.weight_decay = o.get_float("weight_decay", sgd ? 5e-4 : 1e-2, 0.0, 1.0);
  if (sgd) {
    r.optimizer.momentum = o.get_float("momentum", 0.9, 0.0, 1.0);
    r.optimizer.dampening = o.get_float("dampening", 0.0, 0.0, 1.0);
    r.optimizer.nesterov = o.get_bool("nesterov", true);
    if (r.optimizer.nesterov && (r.optimizer.momentum <= 0 || r.optimizer.dampening != 0))
      o.fail("nesterov", "Nesterov momentum requires momentum > 0 and dampening = 0");
  } else {
    auto betas = o.get_float_list("betas", {0.9, 0.999});
    if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1)
      o.fail("betas", "expected two numbers in [0, 1)");
    r.optimizer.beta1 = betas[0];
    r.optimizer.beta2 = betas[1];
    r.optimizer.eps = o.get_float("eps", 1e-8, 0.0, 1.0);
  }
  r.optimizer.no_weight_decay = o.get_string_list("no_weight_decay", {});
  o.finish();

  YamlSection s = root.section("schedule");
  optim::ScheduleOptions& so = r.schedule.options;
  so.name = s.get_enum("name", "cosine", kSchedules);
  r.schedule.warmup_epochs = s.get_float("warmup_epochs", 0, 0, 1e6);
  so.warmup_start_factor = s.get_float("warmup_start_factor", 0.0, 0.0, 1.0);
  if (so.name == optim::ScheduleName::Step) so.step_size_epochs = s.get_int("step_size", 30, 1, kMaxInt);
  if (so.name == optim::ScheduleName::MultiStep) {
    for (double e : s.get_float_list("milestones", {80, 120})) {
      if (e < 1 || e != static_cast<int64_t>(e)) s.fail("milestones", "milestones are positive whole epochs");
      so.milestones_epochs.push_back(static_cast<int64_t>(e));
    }
  }
  if (so.name == optim::ScheduleName::Step || so.name == optim::ScheduleName::MultiStep) so.gamma = s.get_float("gamma", 0.1, 0.0, 1.0);
  if (so.name == optim::ScheduleName::Cosine) so.min_lr = s.get_float("min_lr", 0.0, 0.0, kInf);
  if (so.name == optim::ScheduleName::OneCycle) {
    so.max_lr = s.get_float("max_lr", r.optimizer.lr, 0.0, 1e3);
    so.pct_start = s.get_float("pct_start", 0.3, 0.0, 1.0);
    so.div_factor = s.get_float("div_factor", 25.0, 1e-9, kInf);
    so.final_div_factor = s.get_float("final_div_factor", 1e4, 1e-9, kInf);
  }
  s.finish();

  YamlSection l = root.section("loss");
  r.label_smoothing = l.get_float("label_smoothing", 0.0, 0.0, 1.0);
  l.finish();

  YamlSection t = root.section("trainer");
  r.trainer.epochs = t.get_int("epochs", 160, 1, 1 << 30);
  r.trainer.max_steps = t.get_optional_int("max_steps", std::nullopt, 1, kMaxInt);
  r.trainer.eval_every = t.get_int("eval_every", 1, 0, 1 << 30);
  r.trainer.checkpoint_every = t.get_int("checkpoint_every", 1, 0, 1 << 30);
  r.trainer.checkpoint_every_steps = t.get_int("checkpoint_every_steps", 0, 0, 1 << 30);
  r.trainer.bucket_mb = t.get_float("bucket_mb", 0.25, 1e-3, 1024.0);
  r.trainer.keep_last = t.get_int("keep_last", 3, 1, 1 << 20);
  r.trainer.log_every = t.get_int("log_every", 50, 1, 1 << 30);
  r.trainer.out_dir = t.get_string("out_dir", "runs/" + r.model.name + "_" + r.data.dataset);
  t.finish();

  YamlSection f = root.section("finetune");
  r.finetune.bn = f.get_enum("bn", "trainable", kBnModes);
  r.finetune.freeze = f.get_string_list("freeze", {});
  r.finetune.reset_head = f.get_bool("reset_head", false);
  r.finetune.recalibrate_bn_batches = f.get_int("recalibrate_bn_batches", 0, 0, 1 << 30);
  f.finish();

  root.finish();
  return r;
}

Shape recipe_input_shape(const Recipe& r) { return {r.model.in_channels, r.model.input_size, r.model.input_size}; }

std::string dump_recipe(const Recipe& r) {
  YAML::Emitter e;
  e << r.resolved;
  return std::string(e.c_str()) + "\n";
}

const std::string& choice_name(Precision p) { return name_of(kPrecisions, p); }
const std::string& choice_name(ops::CpuConvAlgorithm a) { return name_of(kConvAlgorithms, a); }

}  // namespace nf
