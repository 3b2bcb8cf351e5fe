// eval, predict and summary (see commands.h).
#include "tools/commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "framework/autograd/autograd.h"
#include "framework/dist/process_group.h"
#include "framework/io/checkpoint.h"
#include "framework/io/durable.h"
#include "tools/evaluation.h"
#include "tools/export.h"
#include "tools/factories.h"
#include "tools/model_setup.h"
#include "tools/onnx_export.h"
#include "tools/opencv_dnn.h"
#include "tools/runtime.h"
#include "tools/summary.h"

namespace nf {

namespace {

// A .npy file (NumPy format 1.0): float32, C order, of the given shape.
void write_npy(const std::string& path, const std::vector<float>& values, const std::vector<int64_t>& shape) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ", ";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // magic + version + length + header + '\n': 64-byte aligned
  header += '\n';
  const uint16_t len = static_cast<uint16_t>(header.size());
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + std::string(reinterpret_cast<const char*>(&len), 2) + header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  io::write_file_atomic(path, bytes);
}

}  // namespace

Shape recipe_input_shape(const Recipe& r) { return {r.model.in_channels, r.model.input_size, r.model.input_size}; }

void run_eval(const Recipe& r, const std::string& checkpoint, const std::string& split, bool json,
              const std::string& logits_path) {
  configure_runtime(r);
  ModulePtr model = build_recipe_model(r, false);
  load_weights(*model, checkpoint);
  auto loader = make_loader(r, split, false);
  std::vector<float> logits;
  EvalResult e = evaluate(*model, *loader, recipe_placement(r), logits_path.empty() ? nullptr : &logits);
  if (!dist::world().is_root()) return;  // a data-parallel eval: rank 0 reports the whole set
  if (!logits_path.empty())
    write_npy(logits_path, logits, {e.samples, static_cast<int64_t>(logits.size()) / e.samples});
  if (json) {
    nlohmann::json j = {{"loss", e.loss}, {"top1", e.top1}, {"top5", e.top5}, {"samples", e.samples}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s on %s/%s: loss %.4f top1 %.2f%% top5 %.2f%% (%lld images)\n", checkpoint.c_str(),
                r.data.dataset.c_str(), split.c_str(), e.loss, 100 * e.top1, 100 * e.top5, (long long)e.samples);
  }
}

void run_recalibrate_bn(const Recipe& r, const std::string& checkpoint, int64_t batches, const std::string& out) {
  NF_CHECK(!std::filesystem::exists(out), out + ": already exists (recalibrate-bn writes a new checkpoint folder)");
  configure_runtime(r);
  ModulePtr model = build_recipe_model(r, false);
  load_weights(*model, checkpoint);
  auto loader = make_loader(r, "train", true);
  const int64_t done =
      recalibrate_bn(*model, *loader, batches > 0 ? batches : loader->batches_per_epoch(), recipe_placement(r));
  io::Checkpoint c;
  if (std::filesystem::is_directory(checkpoint)) c = io::load_checkpoint(checkpoint);
  c.model.clear();
  for (auto& [name, t] : model->state_dict()) c.model[name] = t.to(Device::cpu());
  c.config_yaml = dump_recipe(r);
  io::save_checkpoint(out, c);
  std::printf("%s: BatchNorm statistics recalibrated over %lld batches of %s\n", out.c_str(), (long long)done,
              r.data.root.c_str());
}

void run_predict(const Recipe& r, const PredictSource& source, const std::vector<std::string>& images,
                 int64_t topk) {
  configure_runtime(r);
  // The logits of one preprocessed image [C, H, W]: normforge's model, or the ONNX
  // file run by OpenCV's dnn (after checking it is a normforge export made for this
  // recipe's preprocessing; its class names are the file's).
  std::function<std::vector<float>(const std::vector<float>&, const Shape&)> logits_of;
  std::vector<std::string> file_names;
  ModulePtr model;
  std::shared_ptr<OpenCvNet> net;
  const Placement where = recipe_placement(r);
  if (!source.onnx.empty()) {
    const auto meta = onnx_metadata(source.onnx);
    NF_CHECK(meta.count("normforge.classes"), source.onnx + ": not a normforge export (no normforge.* metadata; "
                                                            "make one with `normforge export --format onnx`)");
    // The images are prepared as the recipe says: it must be what the file was made for.
    for (const auto& [key, value] : deploy_normalization(r))
      NF_CHECK(meta.count(key) && meta.at(key) == value, source.onnx + ": exported for " + key.substr(10) + " " +
                                                              (meta.count(key) ? meta.at(key) : "?") +
                                                              " but the recipe normalizes with " + value);
    try {
      for (const auto& c : nlohmann::json::parse(meta.at("normforge.classes"))) file_names.push_back(c.get<std::string>());
    } catch (const std::exception&) {
      throw Error(source.onnx + ": normforge.classes is not a JSON list of names");
    }
    net = std::make_shared<OpenCvNet>(source.onnx);
    logits_of = [net](const std::vector<float>& buf, const Shape& s) { return net->forward(buf, s); };
  } else {
    model = build_recipe_model(r, false);
    load_weights(*model, source.checkpoint);
    model->eval();
    logits_of = [&](const std::vector<float>& buf, const Shape& s) {
      NoGradGuard no_grad;
      return (*model)(place(Tensor::from_vector(buf, {1, s[0], s[1], s[2]}), where)).to_vector();
    };
  }
  std::vector<std::string> names = file_names;
  if (names.empty()) try {  // class names from the dataset files when they are at hand
      names = open_recipe_dataset(r, "test")->class_names();
    } catch (const Error&) {
    }
  const Shape chw = recipe_input_shape(r);
  for (const std::string& path : images) {
    Tensor img = data::decode_image(path, chw[0], chw[1], chw[2]);
    std::vector<float> buf = img.to_vector();
    Shape s = chw;
    Generator gen(r.seed);
    r.data.test_transforms.apply(buf, s, gen);
    const std::vector<float> logits = logits_of(buf, s);
    const float mx = *std::max_element(logits.begin(), logits.end());
    double z = 0;
    for (float l : logits) z += std::exp(double(l) - mx);
    std::vector<int64_t> idx(logits.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    const int64_t k = std::min<int64_t>(topk, static_cast<int64_t>(idx.size()));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
    std::printf("%s\n", path.c_str());
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = idx[i];
      const std::string name = c < static_cast<int64_t>(names.size()) ? names[c] : std::to_string(c);
      std::printf("  %2lld. %-16s %6.2f%%\n", (long long)i + 1, name.c_str(), 100 * std::exp(double(logits[c]) - mx) / z);
    }
  }
}

int run_verify(const std::string& path) {
  namespace fs = std::filesystem;
  NF_CHECK(fs::is_directory(path), path + ": no such folder");
  std::vector<std::string> dirs;
  auto is_checkpoint = [](const fs::path& d) {
    const std::string name = d.filename().string();
    return fs::is_regular_file(d / "model.safetensors") && name.find(".tmp.") == std::string::npos;
  };
  if (is_checkpoint(path)) {
    dirs.push_back(path);
  } else {
    for (const fs::path& parent : {fs::path(path), fs::path(path) / "checkpoints"})
      if (fs::is_directory(parent))
        for (const auto& e : fs::directory_iterator(parent))
          if (e.is_directory() && is_checkpoint(e.path())) dirs.push_back(e.path().string());
    std::sort(dirs.begin(), dirs.end());
  }
  NF_CHECK(!dirs.empty(), path + ": no checkpoint folder here (none holds a model.safetensors)");
  int bad = 0, unverified = 0;
  for (const std::string& d : dirs) {
    const io::Verification v = io::verify_checkpoint(d);
    bad += v.status == io::Verified::Bad;
    unverified += v.status == io::Verified::NoManifest;
    std::printf("%-10s %s\n", v.status == io::Verified::Ok ? "ok" : v.status == io::Verified::Bad ? "BAD" : "unverified",
                v.message.c_str());
  }
  return bad ? 1 : unverified ? 2 : 0;
}

void run_summary(const Recipe& r) {
  configure_runtime(r);
  ModulePtr model = build_recipe_model(r, false);
  int64_t total = 0, trainable = 0;
  for (auto& [n, p] : model->named_parameters()) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  const Shape chw = recipe_input_shape(r);
  std::printf("%s (%s), input %s\n", r.model.name.c_str(), r.data.dataset.c_str(), shape_str(chw).c_str());
  std::printf("%s", format_summary(summarize(*model, chw), total, trainable).c_str());
}

}  // namespace nf
