// normforge: one binary, subcommands (as `caffe train`):
//   normforge train   CONFIG [--set k=v]... [--resume DIR|auto]
//   normforge eval    CONFIG --checkpoint PATH [--split test|train] [--json] [--set k=v]...
//   normforge predict CONFIG --checkpoint PATH | --onnx FILE [--topk K] IMAGE...
//   normforge summary CONFIG [--set k=v]...
//   normforge export  CONFIG --checkpoint PATH --format onnx|safetensors [--fold-bn|--keep-bn]
//                     [--batch N|dynamic] -o OUT
//   normforge recalibrate-bn CONFIG --checkpoint PATH [--batches N] -o OUTDIR
//   normforge verify  PATH      (exit 0 verified, 1 a bad file, 2 unverified: no manifest)
//   normforge bench   CONFIG [--batch N] [--iters N] [--threads N] [--json]
// Under an MPI launcher (mpirun -np N normforge train|eval ..., srun) the N processes
// are the ranks of one data-parallel run (framework/dist, tools/train/distributed.h); an
// error on any rank ends every rank (MPI_Abort) with that rank's exit code. The other
// commands refuse to run on several ranks (exit 2).
// Exit codes: 0 success, 1 error (bad recipe, data, checkpoint...), 2 bad command
// line, 3 training diverged (NaN/Inf loss), 128+N stopped by signal N (SIGTERM, SIGINT)
// after writing a step checkpoint. Errors are one line on stderr.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "tools/cli/commands.h"
#include "tools/train/distributed.h"
#include "tools/train/preemption.h"
#include "tools/train/train_loop.h"
#include "tools/train/trainer.h"

namespace {

// Ends this process with `code` after the one-line message: in a data-parallel run the
// rank is named, and a failure on one rank (uncoordinated) takes every rank down.
int finish(int code, const char* prefix, const char* what, bool every_rank_agrees) {
  const nf::dist::ProcessGroup& g = nf::dist::world();
  if (!g.distributed()) {
    std::fprintf(stderr, "%snormforge: %s\n", prefix, what);
    return code;
  }
  if (!every_rank_agrees || g.is_root()) std::fprintf(stderr, "%snormforge: rank %d: %s\n", prefix, g.rank(), what);
  std::fflush(stderr);
  if (!every_rank_agrees) g.abort(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nf;
  dist::init();  // joins the MPI job when started by mpirun/srun; nothing otherwise
  struct Finalize {
    ~Finalize() { dist::finalize(); }  // on every return below
  } finalize;
  spdlog::set_default_logger(spdlog::stderr_color_mt("normforge"));  // stdout is for results (--json)
  spdlog::set_pattern("[%H:%M:%S] %v");
  configure_rank_logging();
  CLI::App app{"normforge: train, evaluate and fine-tune BatchNorm CNNs from YAML recipes"};
  app.require_subcommand(1);
  std::string config, checkpoint, resume, split = "test", logits, onnx;
  std::vector<std::string> sets, images;
  bool json = false;
  int64_t topk = 5;

  auto* train_cmd = app.add_subcommand("train", "train a model from a recipe");
  train_cmd->add_option("config", config, "recipe (YAML)")->required();
  train_cmd->add_option("--set", sets, "override a recipe key: key.path=value (repeatable)");
  train_cmd->add_option("--resume", resume, "checkpoint folder to resume from, or 'auto' (newest in out_dir)");

  auto* eval_cmd = app.add_subcommand("eval", "evaluate a checkpoint in eval mode");
  eval_cmd->add_option("config", config, "recipe (YAML)")->required();
  eval_cmd->add_option("--checkpoint", checkpoint, "checkpoint folder or model.safetensors")->required();
  eval_cmd->add_option("--split", split, "test | train")->check(CLI::IsMember({"test", "train"}));
  eval_cmd->add_flag("--json", json, "print one JSON object on stdout");
  eval_cmd->add_option("--logits", logits, "also write every sample's logits to this .npy file (float32 [samples, classes])");
  eval_cmd->add_option("--set", sets, "override a recipe key: key.path=value (repeatable)");

  auto* predict_cmd = app.add_subcommand("predict", "top-k classes of PNG/JPEG images");
  predict_cmd->add_option("config", config, "recipe (YAML)")->required();
  auto* predict_ckpt = predict_cmd->add_option("--checkpoint", checkpoint, "checkpoint folder or model.safetensors");
  predict_cmd->add_option("--onnx", onnx, "an ONNX file from `normforge export`, run by OpenCV's dnn module")
      ->excludes(predict_ckpt);
  predict_cmd->add_option("--topk", topk, "classes to print per image")->check(CLI::PositiveNumber);
  predict_cmd->add_option("--set", sets, "override a recipe key: key.path=value (repeatable)");
  predict_cmd->add_option("images", images, "image files")->required();

  auto* summary_cmd = app.add_subcommand("summary", "layers, output shapes, parameters and MACs");
  summary_cmd->add_option("config", config, "recipe (YAML)")->required();
  summary_cmd->add_option("--set", sets, "override a recipe key: key.path=value (repeatable)");

  std::string out;
  int64_t batches = 0;
  auto* recal_cmd = app.add_subcommand("recalibrate-bn", "recompute BatchNorm running statistics on the recipe's training data");
  recal_cmd->add_option("config", config, "recipe (YAML)")->required();
  recal_cmd->add_option("--checkpoint", checkpoint, "checkpoint folder or model.safetensors")->required();
  recal_cmd->add_option("--batches", batches, "training batches to average over (default: one epoch)")
      ->check(CLI::PositiveNumber);
  recal_cmd->add_option("-o,--out", out, "the new checkpoint folder (must not exist)")->required();
  recal_cmd->add_option("--set", sets, "override a recipe key: key.path=value (repeatable)");

  auto* verify_cmd = app.add_subcommand("verify", "check checkpoint folders against their manifests (size, SHA-256)");
  verify_cmd->add_option("path", checkpoint, "a checkpoint folder, or a run's out_dir")->required();

  ExportOptions exp;
  std::string export_batch = "dynamic";
  auto* export_cmd = app.add_subcommand("export", "write a checkpoint for deployment: ONNX, or folded safetensors");
  export_cmd->add_option("config", config, "recipe (YAML)")->required();
  export_cmd->add_option("--checkpoint", checkpoint, "checkpoint folder or model.safetensors")->required();
  export_cmd->add_option("--format", exp.format, "onnx | safetensors")->required();
  bool fold_bn = false;  // the default; the flag states it
  auto* fold_flag = export_cmd->add_flag("--fold-bn", fold_bn, "fold each BatchNorm after a convolution into it (default)");
  export_cmd->add_flag("--keep-bn", exp.keep_bn, "ONNX: every BatchNorm a BatchNormalization node")->excludes(fold_flag);
  export_cmd->add_option("--batch", export_batch, "ONNX: the input's batch size N, or 'dynamic' (default)");
  export_cmd->add_option("-o,--out", exp.out, "the .onnx file, or the safetensors folder (must not exist)")->required();
  export_cmd->add_option("--set", sets, "override a recipe key: key.path=value (repeatable)");

  BenchOptions bench;
  auto* bench_cmd = app.add_subcommand("bench", "training and evaluation throughput on synthetic data");
  bench_cmd->add_option("config", config, "recipe (YAML)")->required();
  bench_cmd->add_option("--batch", bench.batch, "batch size (default: data.batch_size)")->check(CLI::PositiveNumber);
  bench_cmd->add_option("--iters", bench.iters, "timed steps after 3 warm-up steps")->check(CLI::PositiveNumber);
  bench_cmd->add_option("--threads", bench.threads, "CPU threads (0 = all cores; default: the recipe's)")
      ->check(CLI::NonNegativeNumber);
  bench_cmd->add_flag("--json", bench.json, "one JSON object on the last line of stdout");
  bench_cmd->add_option("--set", sets, "override a recipe key: key.path=value (repeatable)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "normforge: %s (see normforge --help)\n", e.what());
    return 2;
  }

  if (dist::world().distributed() && !*train_cmd && !*eval_cmd) {  // every rank says no, and ends alike
    if (dist::world().is_root())
      std::fprintf(stderr, "normforge: %s runs in one process; only train and eval run on several ranks (start it without mpirun)\n",
                   app.get_subcommands().front()->get_name().c_str());
    return 2;
  }

  if (*predict_cmd && checkpoint.empty() == onnx.empty()) {
    std::fprintf(stderr, "normforge: predict needs --checkpoint PATH or --onnx FILE (see normforge predict --help)\n");
    return 2;
  }

  try {
    if (*train_cmd) {
      Recipe r = parse_recipe(config, sets);
      train(r, resume.empty() ? std::nullopt : std::optional<std::string>(resume));
    } else if (*eval_cmd) {
      run_eval(parse_recipe(config, sets), checkpoint, split, json, logits);
    } else if (*predict_cmd) {
      run_predict(parse_recipe(config, sets), {checkpoint, onnx}, images, topk);
    } else if (*summary_cmd) {
      run_summary(parse_recipe(config, sets));
    } else if (*verify_cmd) {
      return run_verify(checkpoint);
    } else if (*export_cmd) {
      if (export_batch != "dynamic") {
        char* end = nullptr;
        const long long n = std::strtoll(export_batch.c_str(), &end, 10);
        NF_CHECK(*end == '\0' && n >= 1, "export: --batch must be a positive batch size or 'dynamic', got '" +
                                              export_batch + "'");
        exp.batch = n;
      }
      run_export(parse_recipe(config, sets), checkpoint, exp);
    } else if (*recal_cmd) {
      run_recalibrate_bn(parse_recipe(config, sets), checkpoint, batches, out);
    } else if (*bench_cmd) {
      run_bench(parse_recipe(config, sets), bench);
    }
  } catch (const StopRequested& e) {  // every rank stops at the same step (train_loop.cpp)
    return finish(128 + e.signal, "\n", e.what(), true);
  } catch (const DivergedError& e) {  // every rank sees the same global loss
    return finish(3, "\n", (std::string("error: ") + e.what()).c_str(), true);
  } catch (const std::exception& e) {
    return finish(1, "", (std::string("error: ") + e.what()).c_str(), false);
  }
  return 0;
}
