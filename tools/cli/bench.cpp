// `normforge bench`: timing training steps and evaluation on synthetic batches (see commands.h).
#include "tools/cli/commands.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "framework/autograd/autograd.h"
#include "framework/backends/cpu/onednn.h"
#include "framework/core/random.h"
#include "framework/ops/loss.h"
#include "tools/cli/summary.h"
#include "tools/train/factories.h"
#include "tools/train/model_setup.h"

namespace nf {

namespace {

constexpr int kWarmup = 3;

// Seconds per call of f, over `iters` calls after kWarmup untimed ones; on a GPU the
// clock stops when the device has finished the queued work.
template <class F>
double seconds_per_call(int64_t iters, Device d, F&& f) {
  auto sync = [&] {
    if (d.is_cuda()) cuda_synchronize(d.index);
  };
  for (int i = 0; i < kWarmup; ++i) f();
  sync();
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i) f();
  sync();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

void run_bench(const Recipe& r, const BenchOptions& o) {
  NF_CHECK(o.iters >= 1, "--iters must be >= 1");
  Recipe run = r;  // --threads overrides the recipe's
  if (o.threads >= 0) run.threads = o.threads;
  const Placement where = configure_runtime(run);
  const int64_t batch = o.batch > 0 ? o.batch : r.data.batch_size;
  ModulePtr model = build_recipe_model(r, where, false);
  const Shape chw = recipe_input_shape(r);
  const int64_t macs = model_macs(*model, chw);

  Generator gen(r.seed);
  std::vector<float> pixels(batch * shape_numel(chw));
  for (float& v : pixels) v = gen.normal(0.f, 1.f);
  std::vector<int64_t> classes(batch);
  for (int64_t& c : classes) c = static_cast<int64_t>(gen.next() % static_cast<uint64_t>(r.model.num_classes));
  const Tensor x = place(Tensor::from_vector(pixels, {batch, chw[0], chw[1], chw[2]}), where);
  const Tensor y = place(Tensor::from_vector(classes, {batch}), where);

  auto opt = make_optimizer(r, *model);
  set_training_mode(*model, r.finetune.bn);
  const double train_s = seconds_per_call(o.iters, where.device, [&] {
    opt->zero_grad();
    ops::cross_entropy((*model)(x), y, r.label_smoothing).backward();
    opt->step();
  });
  model->eval();
  const double eval_s = seconds_per_call(o.iters, where.device, [&] {
    NoGradGuard no_grad;
    (*model)(x);
  });

  const double train_ips = batch / train_s, eval_ips = batch / eval_s;
  const double train_gflops = train_ips * 6.0 * macs / 1e9, eval_gflops = eval_ips * 2.0 * macs / 1e9;
  std::printf("%s on %s, batch %lld, %d threads, %lld timed steps (%d warm-up)\n", r.model.name.c_str(),
              where.device.str().c_str(), (long long)batch, cpu::num_threads(), (long long)o.iters, kWarmup);
  std::printf("  train: %8.1f img/s  %7.1f ms/step  %6.1f GFLOP/s\n", train_ips, 1e3 * train_s, train_gflops);
  std::printf("  eval:  %8.1f img/s  %7.1f ms/step  %6.1f GFLOP/s\n", eval_ips, 1e3 * eval_s, eval_gflops);
  std::printf("  peak RSS %.0f MiB, %.2f GMAC per image\n", peak_rss_mib(), macs / 1e9);
  if (o.json) {
    nlohmann::json j = {{"model", r.model.name},          {"batch", batch},
                        {"device", where.device.str()},   {"precision", choice_name(r.precision)},
                        {"channels_last", where.channels_last}, {"cudnn_benchmark", r.cudnn_benchmark},
                        {"conv_algorithm", choice_name(r.conv_algorithm)},
                        {"threads", cpu::num_threads()},  {"train_images_per_s", train_ips},
                        {"eval_images_per_s", eval_ips},  {"train_ms_per_step", 1e3 * train_s},
                        {"eval_ms_per_step", 1e3 * eval_s}, {"peak_rss_mib", peak_rss_mib()},
                        {"gflops", train_gflops},          {"eval_gflops", eval_gflops},
                        {"macs_per_image", macs}};
    std::printf("%s\n", j.dump().c_str());
  }
}

}  // namespace nf
