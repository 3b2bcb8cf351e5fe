// Training progress: a live single-line bar on a terminal, plain lines every
// `log_every` steps otherwise (logs, CI); nothing when not `shown` (the ranks of a
// data-parallel run but rank 0).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace nf {

class Progress {
 public:
  Progress(int64_t log_every, bool tty, bool shown = true);
  void begin_epoch(int64_t epoch, int64_t epochs, int64_t batches);
  // After each step: running means over the epoch so far.
  void step(int64_t batch, double loss, double top1, double lr, int64_t images);
  void end_epoch();  // clears the live line
  double epoch_seconds() const;

 private:
  int64_t log_every_;
  bool tty_, shown_;
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0, images_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

bool stderr_is_tty();

}  // namespace nf
