// LR schedules: every step's lr against PyTorch's schedulers (tests/parity/ref_optim.py,
// float64 bit patterns), hand-computed closed forms, and option validation.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "framework/optim/lr_schedule.h"
#include "test_util.h"

using namespace nf;
using namespace nf::optim;

namespace {

std::vector<double> ref_lrs(const io::TensorDict& ref, const std::string& name) {
  std::vector<int64_t> bits = ref.at(name).to_int_vector();
  std::vector<double> out(bits.size());
  std::memcpy(out.data(), bits.data(), bits.size() * sizeof(double));
  return out;
}

void expect_schedule(const std::string& name, const ScheduleOptions& o, const std::vector<double>& expected) {
  LrSchedule s(o);
  double max_rel = 0;
  size_t exact = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double got = s.lr_at(int64_t(i)), rel = std::fabs(got - expected[i]) / std::fabs(expected[i]);
    max_rel = std::max(max_rel, rel);
    exact += got == expected[i];
    EXPECT_LE(rel, 1e-9) << name << " step " << i << ": " << got << " vs PyTorch " << expected[i];
  }
  std::printf("[lr] %-22s %zu steps, max_rel=%.3g, %zu exactly equal\n", name.c_str(), expected.size(), max_rel, exact);
}

}  // namespace

TEST(LrScheduleParity, MatchesPyTorchSchedulers) {
  io::TensorDict ref = test::load_ref("optim_lr");
  expect_schedule("cosine", {.name = ScheduleName::Cosine, .base_lr = 0.1, .total_steps = 100, .min_lr = 1e-3}, ref_lrs(ref, "cosine"));
  expect_schedule("cosine_zero_min", {.name = ScheduleName::Cosine, .base_lr = 0.05, .total_steps = 77},
                  ref_lrs(ref, "cosine_zero_min"));
  expect_schedule("step", {.name = ScheduleName::Step, .base_lr = 0.1, .steps_per_epoch = 5, .step_size_epochs = 4, .gamma = 0.5},
                  ref_lrs(ref, "step"));
  expect_schedule("multistep",
                  {.name = ScheduleName::MultiStep, .base_lr = 0.1, .steps_per_epoch = 7, .milestones_epochs = {3, 5, 8}},
                  ref_lrs(ref, "multistep"));
  expect_schedule("onecycle", {.name = ScheduleName::OneCycle, .base_lr = 0.1, .total_steps = 97, .max_lr = 0.2},
                  ref_lrs(ref, "onecycle"));
  expect_schedule("onecycle_three_linear",
                  {.name = ScheduleName::OneCycle, .total_steps = 50, .max_lr = 0.1, .pct_start = 0.25, .div_factor = 10,
                   .final_div_factor = 100, .three_phase = true, .anneal = "linear"},
                  ref_lrs(ref, "onecycle_three_linear"));
  expect_schedule("warmup_cosine",
                  {.name = ScheduleName::Cosine, .base_lr = 0.1, .total_steps = 100, .warmup_steps = 10,
                   .warmup_start_factor = 0.1, .min_lr = 1e-4},
                  ref_lrs(ref, "warmup_cosine"));
  expect_schedule("warmup_constant", {.name = ScheduleName::Constant, .base_lr = 0.4, .warmup_steps = 8, .warmup_start_factor = 0.25},
                  ref_lrs(ref, "warmup_constant"));
}

TEST(LrSchedule, ClosedFormsByHand) {
  // Warm-up then step decay: epochs of the main schedule count from the warm-up's end.
  LrSchedule step({.name = ScheduleName::Step, .base_lr = 1.0, .steps_per_epoch = 10, .warmup_steps = 4,
                   .step_size_epochs = 2, .gamma = 0.1});
  EXPECT_DOUBLE_EQ(step.lr_at(0), 0.0);
  EXPECT_DOUBLE_EQ(step.lr_at(2), 0.5);
  EXPECT_DOUBLE_EQ(step.lr_at(4), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(23), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(24), 0.1);
  EXPECT_DOUBLE_EQ(step.lr_at(44), 0.01);
  LrSchedule multi({.name = ScheduleName::MultiStep, .base_lr = 0.1, .steps_per_epoch = 3, .milestones_epochs = {1, 4}, .gamma = 0.5});
  EXPECT_DOUBLE_EQ(multi.lr_at(2), 0.1);
  EXPECT_DOUBLE_EQ(multi.lr_at(3), 0.05);
  EXPECT_DOUBLE_EQ(multi.lr_at(11), 0.05);
  EXPECT_DOUBLE_EQ(multi.lr_at(12), 0.025);
  EXPECT_DOUBLE_EQ(multi.lr_at(1000), 0.025);
  // Cosine holds eta_min past its end; onecycle holds its last rate.
  LrSchedule cos({.name = ScheduleName::Cosine, .base_lr = 0.1, .total_steps = 10, .min_lr = 0.01});
  EXPECT_DOUBLE_EQ(cos.lr_at(0), 0.1);
  EXPECT_NEAR(cos.lr_at(5), 0.055, 1e-15);
  EXPECT_DOUBLE_EQ(cos.lr_at(10), 0.01);
  EXPECT_DOUBLE_EQ(cos.lr_at(50), 0.01);
  LrSchedule one({.name = ScheduleName::OneCycle, .base_lr = 0.1, .total_steps = 20});
  EXPECT_DOUBLE_EQ(one.lr_at(0), 0.1 / 25);
  EXPECT_NEAR(one.lr_at(19), 0.1 / 25 / 1e4, 1e-18);
  EXPECT_DOUBLE_EQ(one.lr_at(100), one.lr_at(19));
  EXPECT_DOUBLE_EQ(LrSchedule({.name = ScheduleName::Constant, .base_lr = 0.3}).lr_at(12345), 0.3);
}

TEST(LrSchedule, InvalidOptionsThrowClearErrors) {
  auto msg = [](const ScheduleOptions& o) {
    try {
      LrSchedule s(o);
      s.lr_at(-1);
    } catch (const Error& e) {
      std::printf("[error] %s\n", e.what());
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto expect_msg = [&](const ScheduleOptions& o, const std::string& needle) {
    EXPECT_NE(msg(o).find(needle), std::string::npos) << "expected an error mentioning " << needle;
  };
  expect_msg({.name = ScheduleName::Constant, .base_lr = -0.1}, "base_lr");
  expect_msg({.name = ScheduleName::Constant}, "negative step");
  expect_msg({.name = ScheduleName::Constant, .warmup_steps = -1}, "warmup_steps");
  expect_msg({.name = ScheduleName::Constant, .warmup_start_factor = 1.5}, "warmup_start_factor");
  expect_msg({.name = ScheduleName::Step, .step_size_epochs = 2}, "steps_per_epoch");
  expect_msg({.name = ScheduleName::Step, .steps_per_epoch = 10}, "step_size_epochs");
  expect_msg({.name = ScheduleName::Step, .steps_per_epoch = 10, .step_size_epochs = 2, .gamma = 0}, "gamma");
  expect_msg({.name = ScheduleName::MultiStep, .steps_per_epoch = 10}, "needs milestones_epochs");
  expect_msg({.name = ScheduleName::MultiStep, .steps_per_epoch = 10, .milestones_epochs = {5, 5}}, "strictly increasing");
  expect_msg({.name = ScheduleName::Cosine, .total_steps = 10, .warmup_steps = 10}, "total_steps (10) > warmup_steps (10)");
  expect_msg({.name = ScheduleName::Cosine, .total_steps = 10, .min_lr = -1}, "min_lr");
  expect_msg({.name = ScheduleName::OneCycle}, "total_steps");
  expect_msg({.name = ScheduleName::OneCycle, .total_steps = 10, .warmup_steps = 2}, "own warm-up");
  expect_msg({.name = ScheduleName::OneCycle, .total_steps = 10, .pct_start = 1.5}, "pct_start");
  expect_msg({.name = ScheduleName::OneCycle, .total_steps = 10, .pct_start = 0.1}, "zero steps");
  expect_msg({.name = ScheduleName::OneCycle, .total_steps = 10, .div_factor = 0}, "div_factor");
  expect_msg({.name = ScheduleName::OneCycle, .total_steps = 10, .anneal = "exp"}, "cos or linear");
}
