#include "tools/train/progress.h"

#include <unistd.h>

#include <cstdio>

namespace nf {

bool stderr_is_tty() { return isatty(fileno(stderr)); }

Progress::Progress(int64_t log_every, bool tty, bool shown) : log_every_(log_every), tty_(tty), shown_(shown) {}

void Progress::begin_epoch(int64_t epoch, int64_t epochs, int64_t batches) {
  epoch_ = epoch, epochs_ = epochs, batches_ = batches, images_ = 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

double Progress::epoch_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::step(int64_t batch, double loss, double top1, double lr, int64_t images) {
  images_ += images;
  if (!shown_) return;
  auto now = std::chrono::steady_clock::now();
  const double secs = epoch_seconds();
  const double ips = secs > 0 ? images_ / secs : 0;
  const std::string epoch = epochs_ > 0 ? std::to_string(epoch_ + 1) + "/" + std::to_string(epochs_) : std::to_string(epoch_ + 1);
  if (tty_) {
    if (batch + 1 < batches_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    const int width = 24;
    int filled = batches_ > 0 ? static_cast<int>(width * (batch + 1) / batches_) : 0;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r\033[Kepoch %s [%s] %lld/%lld loss %.4f top1 %.2f%% lr %.5f %.0f img/s", epoch.c_str(),
                 bar.c_str(), (long long)batch + 1, (long long)batches_, loss, 100 * top1, lr, ips);
  } else if ((batch + 1) % log_every_ == 0) {
    std::fprintf(stderr, "epoch %s step %lld/%lld loss %.4f top1 %.2f%% lr %.5f %.0f img/s\n", epoch.c_str(),
                 (long long)batch + 1, (long long)batches_, loss, 100 * top1, lr, ips);
  }
  std::fflush(stderr);
}

void Progress::end_epoch() {
  if (tty_ && shown_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace nf
