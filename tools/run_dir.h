// The run folder of `normforge train` (trainer.out_dir):
//   out_dir/metrics.jsonl                one JSON object per epoch
//   out_dir/checkpoints/epoch_NNNN/      every checkpoint_every epochs, keep_last kept
//   out_dir/checkpoints/best/            best test top-1 so far
//   out_dir/final/                       when training ends (also through max_steps)
// Which checkpoint a run resumes from, moving an earlier run aside, metrics.jsonl.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace nf {

class RunDir {
 public:
  explicit RunDir(const std::string& out_dir);
  const std::filesystem::path& out() const { return out_; }
  const std::filesystem::path& checkpoints() const { return checkpoints_; }

  // The checkpoint folder to resume from: `resume` itself, or for "auto" the newest
  // complete checkpoint ("" with a log line when there is none); "" without `resume`.
  std::string resume_dir(const std::optional<std::string>& resume) const;
  // A fresh run never overwrites an earlier one: an out_dir holding a run is moved
  // aside, whole, to OUT_DIR.prev-YYYYmmdd-HHMMSS.
  void move_earlier_run_aside() const;
  // Creates checkpoints/ and trims metrics.jsonl to the epochs up to `epoch` (the
  // resume point; 0 for a fresh run).
  void open(int64_t epoch) const;
  void append_metrics(const nlohmann::json& line) const;
  // The newest complete checkpoint folder, or "none".
  std::string last_checkpoint() const;

 private:
  std::filesystem::path out_, checkpoints_, metrics_;
};

}  // namespace nf
