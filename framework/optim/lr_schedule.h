// Learning-rate schedules as pure functions of the optimizer step (0-based: lr_at(s)
// is the lr of the (s+1)-th update), so a resumed run gets exactly the same rates.
// Each matches a torch.optim.lr_scheduler sequence (closed forms):
//   constant   base_lr
//   step       StepLR(step_size=step_size_epochs, gamma) stepped once per epoch:
//              base_lr * gamma^(epoch / step_size_epochs), epoch = t / steps_per_epoch
//   multistep  MultiStepLR(milestones_epochs, gamma) stepped once per epoch:
//              base_lr * gamma^(number of milestones <= epoch)
//   cosine     CosineAnnealingLR(T_max = total_steps - warmup_steps, eta_min = min_lr)
//              stepped per step: min_lr + (base_lr - min_lr) * (1 + cos(pi*t/T_max)) / 2,
//              held at min_lr from t = T_max on
//   onecycle   OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy=anneal,
//              div_factor, final_div_factor, three_phase) stepped per step; steps past
//              total_steps-1 hold the last rate. (Momentum cycling is not modeled.)
// Warm-up (not with onecycle): LinearLR(start_factor = warmup_start_factor,
// total_iters = warmup_steps) chained before the schedule as SequentialLR does:
// lr = base_lr * (f + (1-f) * s / warmup_steps) for s < warmup_steps; then the
// schedule above runs on t = s - warmup_steps (its epochs count from the warm-up's end).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nf::optim {

enum class ScheduleName { Constant, Step, MultiStep, Cosine, OneCycle };
const char* schedule_name(ScheduleName n);  // "constant", "step", "multistep", "cosine", "onecycle"

struct ScheduleOptions {
  ScheduleName name = ScheduleName::Constant;
  double base_lr = 0.1;
  int64_t total_steps = 0;      // required by cosine and onecycle
  int64_t steps_per_epoch = 0;  // required by step and multistep
  int64_t warmup_steps = 0;
  double warmup_start_factor = 0.0;  // linear warm-up from factor*base_lr to base_lr
  int64_t step_size_epochs = 0;      // step
  std::vector<int64_t> milestones_epochs;  // multistep, strictly increasing
  double gamma = 0.1;                // step, multistep
  double min_lr = 0;                 // cosine eta_min
  double max_lr = 0;                 // onecycle peak; 0 means base_lr
  double pct_start = 0.3, div_factor = 25, final_div_factor = 1e4;  // onecycle
  bool three_phase = false;          // onecycle
  std::string anneal = "cos";        // onecycle: cos | linear
};

class LrSchedule {
 public:
  explicit LrSchedule(ScheduleOptions o);  // validates; nf::Error names the bad option
  double lr_at(int64_t step) const;        // step >= 0
  const ScheduleOptions& options() const { return o_; }

 private:
  double main_lr(int64_t t) const;  // the schedule after warm-up, t = step - warmup_steps
  double onecycle_lr(int64_t step) const;

  ScheduleOptions o_;
};

}  // namespace nf::optim
