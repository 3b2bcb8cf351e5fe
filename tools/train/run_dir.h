// The run folder of `normforge train` (trainer.out_dir):
//   out_dir/metrics.jsonl                one JSON object per epoch
//   out_dir/.lock                        held (flock) by the run writing here
//   out_dir/checkpoints/epoch_NNNN/      every checkpoint_every epochs, keep_last kept
//   out_dir/checkpoints/step_NNNNNNN/    every checkpoint_every_steps steps and on a stop signal
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
  // complete checkpoint, epoch_ or step_, the one with more steps (an epoch_ on a tie);
  // "" with a log line when there is none; "" without `resume`.
  std::string resume_dir(const std::optional<std::string>& resume) const;
  // A fresh run never overwrites an earlier one: an out_dir holding a run is moved
  // aside, whole (but the lock), to OUT_DIR.prev-YYYYmmdd-HHMMSS.
  void move_earlier_run_aside() const;
  // Creates checkpoints/, removes what an interrupted write or prune left (NAME.tmp.PID),
  // and trims metrics.jsonl to the epochs up to `epoch` (the
  // resume point; 0 for a fresh run); a torn last line (a crash while writing it) is
  // dropped with a warning.
  void open(int64_t epoch) const;
  // One line, written whole by a single write() and fsync'ed.
  void append_metrics(const nlohmann::json& line) const;
  // The newest complete checkpoint folder, or "none".
  std::string last_checkpoint() const;

 private:
  std::filesystem::path out_, checkpoints_, metrics_;
};

// out_dir/.lock held with flock(2) for the object's life (the kernel drops it when the
// process dies, so a stale lock file never blocks). Creates out_dir. A folder locked by
// another process is an nf::Error naming that process.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& out_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace nf
