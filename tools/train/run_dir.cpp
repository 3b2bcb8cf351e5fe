// RunDir: resume lookup, moving an earlier run aside, metrics.jsonl; RunLock (see run_dir.h).
#include "tools/train/run_dir.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <vector>

#include "framework/io/checkpoint.h"
#include "framework/io/durable.h"
#include "framework/io/safetensors.h"

namespace fs = std::filesystem;

namespace nf {

RunDir::RunDir(const std::string& out_dir)
    : out_(out_dir), checkpoints_(out_ / "checkpoints"), metrics_(out_ / "metrics.jsonl") {}

std::string RunDir::resume_dir(const std::optional<std::string>& resume) const {
  if (resume != "auto") return resume.value_or("");
  const auto epochs = io::list_checkpoints(checkpoints_.string());
  const auto steps = io::list_checkpoints(checkpoints_.string(), "step_");
  if (!epochs.empty() && !steps.empty()) {  // the newer of the two kinds, by steps taken
    io::Metadata meta;
    io::load_safetensors(epochs.back() + "/trainer_state.safetensors", &meta);
    const long long epoch_step = meta.count("step") ? std::stoll(meta.at("step")) : 0;
    const long long step = std::stoll(fs::path(steps.back()).filename().string().substr(5));
    return step > epoch_step ? steps.back() : epochs.back();
  }
  if (!epochs.empty()) return epochs.back();
  if (!steps.empty()) return steps.back();
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
  fs::create_directories(aside);
  for (const auto& e : fs::directory_iterator(out_))  // all but the lock this run holds
    if (e.path().filename() != ".lock") fs::rename(e.path(), aside / e.path().filename());
  spdlog::info("{} held an earlier run: moved it to {} (use --resume auto to continue a run)", out_.string(),
               aside.string());
}

void RunDir::open(int64_t epoch) const {
  fs::create_directories(checkpoints_);
  // What a killed run was writing or deleting (NAME.tmp.PID, files and folders): never
  // complete, and nobody else writes here while this run holds the lock.
  for (const fs::path& dir : {out_, checkpoints_})
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) {
        spdlog::info("removing {}, left by an interrupted write", e.path().string());
        fs::remove_all(e.path());
      }
  if (!fs::exists(metrics_)) return;
  const std::string text = io::read_file(metrics_.string());
  std::string keep;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (end == std::string::npos || j.is_discarded()) {
      spdlog::warn("{}: dropped a torn line (a crash while it was written): {}", metrics_.string(), line);
    } else if (j.contains("epoch") && j["epoch"].is_number() && j["epoch"].get<int64_t>() <= epoch) {
      keep += line + "\n";
    }
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  io::write_file_atomic(metrics_.string(), keep);
}

void RunDir::append_metrics(const nlohmann::json& line) const {
  const std::string text = line.dump() + "\n";
  const int fd = ::open(metrics_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  const bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  NF_CHECK(ok, metrics_.string() + ": cannot append (" + std::strerror(err) + ")");
}

RunLock::RunLock(const fs::path& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  NF_CHECK(!ec, out_dir.string() + ": cannot create the run folder (" + ec.message() + ")");
  const std::string path = (out_dir / ".lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  NF_CHECK(fd_ >= 0, path + ": cannot open the run lock (" + std::strerror(errno) + ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    throw Error(out_dir.string() + ": another normforge train is writing here (process " +
                (n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("?")) +
                "); wait for it to end or choose another trainer.out_dir");
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
    spdlog::warn("{}: cannot record the process id in the lock", path);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RunDir::last_checkpoint() const {
  auto all = io::list_checkpoints(checkpoints_.string());
  return all.empty() ? std::string("none") : all.back();
}

}  // namespace nf
