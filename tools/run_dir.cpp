// RunDir: resume lookup, moving an earlier run aside, metrics.jsonl (see run_dir.h).
#include "tools/run_dir.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <fstream>
#include <vector>

#include "framework/io/checkpoint.h"

namespace fs = std::filesystem;

namespace nf {

RunDir::RunDir(const std::string& out_dir)
    : out_(out_dir), checkpoints_(out_ / "checkpoints"), metrics_(out_ / "metrics.jsonl") {}

std::string RunDir::resume_dir(const std::optional<std::string>& resume) const {
  if (resume != "auto") return resume.value_or("");
  auto all = io::list_checkpoints(checkpoints_.string());
  if (!all.empty()) return all.back();
  spdlog::info("--resume auto: no checkpoint in {}, starting fresh", checkpoints_.string());
  return "";
}

void RunDir::move_earlier_run_aside() const {
  if (!fs::exists(metrics_) && !fs::exists(checkpoints_) && !fs::exists(out_ / "final")) return;
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  fs::path aside = out_.string() + ".prev-" + stamp;
  for (int i = 1; fs::exists(aside); ++i) aside = out_.string() + ".prev-" + stamp + "-" + std::to_string(i);
  fs::rename(out_, aside);
  spdlog::info("{} held an earlier run: moved it to {} (use --resume auto to continue a run)", out_.string(),
               aside.string());
}

void RunDir::open(int64_t epoch) const {
  fs::create_directories(checkpoints_);
  std::vector<std::string> keep;
  std::ifstream in(metrics_);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("epoch") && j["epoch"].is_number() && j["epoch"].get<int64_t>() <= epoch)
      keep.push_back(line);
  }
  std::ofstream o(metrics_, std::ios::trunc);
  for (auto& l : keep) o << l << "\n";
}

void RunDir::append_metrics(const nlohmann::json& line) const {
  std::ofstream(metrics_, std::ios::app) << line.dump() << "\n";
}

std::string RunDir::last_checkpoint() const {
  auto all = io::list_checkpoints(checkpoints_.string());
  return all.empty() ? std::string("none") : all.back();
}

}  // namespace nf
