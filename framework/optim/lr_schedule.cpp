// Closed forms of PyTorch's StepLR, MultiStepLR, CosineAnnealingLR, OneCycleLR and
// LinearLR warm-up (see lr_schedule.h), written in PyTorch's order of operations.
#include "framework/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "framework/core/error.h"
#include "framework/optim/optimizer.h"  // format_value

namespace nf::optim {

namespace {

void check_positive(const std::string& what, double v) {
  NF_CHECK(std::isfinite(v) && v > 0, "lr schedule: " + what + " must be > 0, got " + format_value(v));
}

void check_nonnegative(const std::string& what, double v) {
  NF_CHECK(std::isfinite(v) && v >= 0, "lr schedule: " + what + " must be >= 0, got " + format_value(v));
}

void check_positive(const std::string& what, int64_t v) {
  NF_CHECK(v > 0, "lr schedule: " + what + " must be > 0, got " + std::to_string(v));
}

void check_nonnegative(const std::string& what, int64_t v) {
  NF_CHECK(v >= 0, "lr schedule: " + what + " must be >= 0, got " + std::to_string(v));
}

}  // namespace

const char* schedule_name(ScheduleName n) {
  switch (n) {
    case ScheduleName::Constant: return "constant";
    case ScheduleName::Step: return "step";
    case ScheduleName::MultiStep: return "multistep";
    case ScheduleName::Cosine: return "cosine";
    case ScheduleName::OneCycle: return "onecycle";
  }
  return "?";
}

LrSchedule::LrSchedule(ScheduleOptions o) : o_(std::move(o)) {
  const ScheduleName n = o_.name;
  check_nonnegative("base_lr", o_.base_lr);
  check_nonnegative("total_steps", o_.total_steps);
  check_nonnegative("warmup_steps", o_.warmup_steps);
  NF_CHECK(o_.warmup_start_factor >= 0 && o_.warmup_start_factor <= 1,
           "lr schedule: warmup_start_factor must be in [0, 1], got " + format_value(o_.warmup_start_factor));
  if (n == ScheduleName::Step || n == ScheduleName::MultiStep) {
    check_positive(std::string(schedule_name(n)) + ": steps_per_epoch", o_.steps_per_epoch);
    check_positive(std::string(schedule_name(n)) + ": gamma", o_.gamma);
  }
  if (n == ScheduleName::Step) check_positive("step: step_size_epochs", o_.step_size_epochs);
  if (n == ScheduleName::MultiStep) {
    const auto& m = o_.milestones_epochs;
    NF_CHECK(!m.empty(), "lr schedule: multistep needs milestones_epochs");
    for (size_t i = 0; i < m.size(); ++i)
      NF_CHECK(m[i] > 0 && (i == 0 || m[i] > m[i - 1]),
               "lr schedule: milestones_epochs must be positive and strictly increasing, got " +
                   std::to_string(m[i]) + " at index " + std::to_string(i));
  }
  if (n == ScheduleName::Cosine) {
    check_nonnegative("cosine: min_lr", o_.min_lr);
    NF_CHECK(o_.total_steps > o_.warmup_steps,
             "lr schedule: cosine needs total_steps (" + std::to_string(o_.total_steps) + ") > warmup_steps (" +
                 std::to_string(o_.warmup_steps) + ")");
  }
  if (n == ScheduleName::OneCycle) {
    NF_CHECK(o_.warmup_steps == 0, "lr schedule: onecycle has its own warm-up; warmup_steps must be 0");
    check_positive("onecycle: total_steps", o_.total_steps);
    check_nonnegative("onecycle: max_lr", o_.max_lr);
    if (o_.max_lr == 0) o_.max_lr = o_.base_lr;
    NF_CHECK(o_.pct_start >= 0 && o_.pct_start <= 1,
             "lr schedule: onecycle pct_start must be in [0, 1], got " + format_value(o_.pct_start));
    NF_CHECK(double(o_.pct_start * o_.total_steps) != 1.0,
             "lr schedule: onecycle pct_start * total_steps = 1 leaves a warm-up phase of zero steps");
    check_positive("onecycle: div_factor", o_.div_factor);
    check_positive("onecycle: final_div_factor", o_.final_div_factor);
    NF_CHECK(o_.anneal == "cos" || o_.anneal == "linear",
             "lr schedule: onecycle anneal must be cos or linear, got '" + o_.anneal + "'");
  }
}

double LrSchedule::lr_at(int64_t step) const {
  NF_CHECK(step >= 0, "lr schedule: negative step " + std::to_string(step));
  if (o_.name == ScheduleName::OneCycle) return onecycle_lr(std::min(step, o_.total_steps - 1));
  if (step < o_.warmup_steps) {  // LinearLR closed form, end_factor 1
    const double f = o_.warmup_start_factor;
    return o_.base_lr * (f + (1.0 - f) * double(step) / o_.warmup_steps);
  }
  return main_lr(step - o_.warmup_steps);
}

double LrSchedule::main_lr(int64_t t) const {
  const ScheduleName n = o_.name;
  if (n == ScheduleName::Step) {
    const int64_t epoch = t / o_.steps_per_epoch;
    return o_.base_lr * std::pow(o_.gamma, double(epoch / o_.step_size_epochs));
  }
  if (n == ScheduleName::MultiStep) {
    const int64_t epoch = t / o_.steps_per_epoch;
    const auto& m = o_.milestones_epochs;
    const auto passed = std::upper_bound(m.begin(), m.end(), epoch) - m.begin();  // bisect_right
    return o_.base_lr * std::pow(o_.gamma, double(passed));
  }
  if (n == ScheduleName::Cosine) {
    const int64_t t_max = o_.total_steps - o_.warmup_steps;
    if (t >= t_max) return o_.min_lr;
    return o_.min_lr +
           (o_.base_lr - o_.min_lr) * (1 + std::cos(std::numbers::pi * double(t) / double(t_max))) / 2;
  }
  return o_.base_lr;  // constant
}

double LrSchedule::onecycle_lr(int64_t step) const {
  const double initial_lr = o_.max_lr / o_.div_factor;
  const double min_lr = initial_lr / o_.final_div_factor;
  const double total = o_.total_steps;
  struct Phase {
    double end_step, start_lr, end_lr;
  };
  std::vector<Phase> phases;
  if (o_.three_phase)
    phases = {{double(o_.pct_start * total) - 1, initial_lr, o_.max_lr},
              {double(2 * o_.pct_start * total) - 2, o_.max_lr, initial_lr},
              {total - 1, initial_lr, min_lr}};
  else
    phases = {{double(o_.pct_start * total) - 1, initial_lr, o_.max_lr}, {total - 1, o_.max_lr, min_lr}};
  double start_step = 0;
  for (size_t i = 0;; ++i) {
    const Phase& p = phases[i];
    if (double(step) <= p.end_step || i + 1 == phases.size()) {
      const double pct = (double(step) - start_step) / (p.end_step - start_step);
      if (o_.anneal == "linear") return (p.end_lr - p.start_lr) * pct + p.start_lr;
      const double cos_out = std::cos(std::numbers::pi * pct) + 1;
      return p.end_lr + (p.start_lr - p.end_lr) / 2.0 * cos_out;
    }
    start_step = p.end_step;
  }
}

}  // namespace nf::optim
