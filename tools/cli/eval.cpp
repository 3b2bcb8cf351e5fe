// `normforge eval` (see commands.h).
#include "tools/cli/commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "framework/distributed/process_group.h"
#include "framework/io/durable.h"
#include "tools/train/evaluation.h"
#include "tools/train/factories.h"
#include "tools/train/model_setup.h"

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

void run_eval(const Recipe& r, const std::string& checkpoint, const std::string& split, bool json,
              const std::string& logits_path) {
  const Placement where = configure_runtime(r);
  ModulePtr model = build_recipe_model(r, where, false);
  load_weights(*model, checkpoint);
  auto loader = make_loader(r, split, false);
  std::vector<float> logits;
  EvalResult e = evaluate(*model, *loader, where, logits_path.empty() ? nullptr : &logits);
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

}  // namespace nf
