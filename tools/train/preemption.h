// Preemption (Slurm's --signal, Kubernetes' grace period): SIGTERM or SIGINT asks a
// training run to stop. The trainer checks stop_signal() before each step; when set it
// writes a step checkpoint and throws StopRequested, which main() turns into exit code
// 128 + signal. A second signal exits at once (128 + signal), as a user pressing
// Ctrl-C twice expects.
#pragma once
#include "framework/core/error.h"

namespace nf {

// Installs the SIGTERM/SIGINT handlers (for the life of the process).
void install_stop_handlers();
// The signal that asked to stop (SIGTERM, SIGINT), or 0.
int stop_signal();

struct StopRequested : Error {
  StopRequested(int sig, const std::string& message) : Error(message), signal(sig) {}
  int signal;
};

}  // namespace nf
