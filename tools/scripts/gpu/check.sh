#!/usr/bin/env bash
# tools/scripts/gpu/check.sh BUNDLE_DIR LOG_DIR: the GPU machine's check of a bundle made by
# tools/scripts/gpu/bundle.sh (run it from anywhere; it only reads BUNDLE_DIR, writes LOG_DIR):
#   1. nvidia-smi -L
#   2. the GPU tests: the CUDA instances of the typed op and layer tests
#      (nf_tests --gtest_filter='*/CUDA', PyTorch references from BUNDLE_DIR/parity;
#      LOG_DIR/typed_tests.json) and the GPU-only tests (nf_gpu_tests; LOG_DIR/gpu_tests.json)
#   3. the smoke recipe trained with device: cuda, its final checkpoint evaluated on
#      cuda and on cpu (normforge eval --json)
#   4. normforge bench (batch 512, channels-last) of resnet20 and resnet18 at precision
#      fp32 and tf32, and PyTorch on the same GPU (tools/scripts/gpu/pytorch_gpu_bench.py:
#      fp32, tf32, amp_bf16, compile_amp_bf16)
#   5. LOG_DIR/summary.json (both test sets, smoke results, img/s and the ratios normforge /
#      pytorch_eager_amp and normforge / torch_compile) and a table on stdout.
# Every step has a time limit and its own LOG_DIR/<step>.log; a failing step is
# recorded and the script goes on, so one run reports everything. Exit status: 0 only
# when every step (tests, smoke run, each benchmark, the summary) exited 0; otherwise 1,
# after a last line that names each failed step. Environment: PYTHON (default python3), ITERS (default 100: timed
# steps per bench; at 50 a PyTorch run timed only ~0.5 s and varied by ~20% run to run).
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUNDLE_DIR LOG_DIR" >&2
  exit 2
fi
BUNDLE=$(cd "$1" && pwd) || exit 2
mkdir -p "$2" && LOG=$(cd "$2" && pwd) || exit 2
RUN=$BUNDLE/run
PY=${PYTHON:-python3}
ITERS=${ITERS:-100}
BATCH=512
SAMPLE=$BUNDLE/data/cifar10-sample
ROOT=$SAMPLE/cifar-10-batches-bin
export NF_CIFAR_SAMPLE=$SAMPLE NF_CONFIG_DIR=$BUNDLE/configs NF_PARITY_DIR=$BUNDLE/parity PYTHONUNBUFFERED=1
STEPS=$LOG/steps.tsv
: >"$STEPS"
T0=$(date +%s)

# step NAME LIMIT_S CMD...: runs CMD with stdout+stderr in LOG/NAME.log, records
# "NAME<TAB>rc<TAB>seconds" in steps.tsv.
step() {
  local name=$1 limit=$2 t rc dt
  shift 2
  t=$(date +%s)
  echo "== $name: $*" >&2
  timeout --kill-after=10 "$limit" "$@" >"$LOG/$name.log" 2>&1
  rc=$?
  dt=$(($(date +%s) - t))
  printf '%s\t%s\t%s\n' "$name" "$rc" "$dt" >>"$STEPS"
  [ $rc -eq 0 ] || echo "   $name: exit $rc after ${dt}s (see $LOG/$name.log; 124 = time limit)" >&2
  return $rc
}

# 1. the device
step nvidia_smi 30 nvidia-smi -L
cat "$LOG/nvidia_smi.log" >&2

# 2. GPU tests. gtests BASE LIMIT FILTER PROGRAM: PROGRAM's tests that FILTER selects, with
# --gtest_output=json:LOG/BASE.json. A test that crashes the binary (or hangs) takes the
# rest down with it: then run again without it (up to 4 times) so the others still report;
# BASE.json/.log, then BASE_2.json/.log, ...; the crashed ones in BASE_crashed.tsv.
gtests() {
  local base=$1 limit=$2 positive=$3 prog=$4 exclude= attempt name rc crashed
  for attempt in 1 2 3 4 5; do
    name=$base
    [ $attempt -gt 1 ] && name=${base}_$attempt
    step $name "$limit" "$RUN" "$prog" --gtest_filter="$positive${exclude:+-$exclude}" \
      --gtest_output=json:"$LOG/$name.json"
    rc=$?
    [ $rc -le 1 ] && break  # 0: all passed, 1: some failed; anything else: a crash or the time limit
    crashed=$(sed -n 's/^\[ RUN      \] \([^ ]*\).*/\1/p' "$LOG/$name.log" | tail -1)
    [ -n "$crashed" ] || break
    echo "   $name: $crashed crashed or hung (exit $rc); running the rest again without it" >&2
    echo "$crashed	$rc" >>"$LOG/${base}_crashed.tsv"
    exclude=${exclude:+$exclude:}$crashed
  done
}
# The op and layer tests, written once per device (tests/device_test.h): their /CUDA
# instances, against the same PyTorch references and finite differences as on the CPU.
gtests typed_tests 300 '*/CUDA' nf_tests
grep -h '^typed device tests:' "$LOG"/typed_tests*.log >&2
# What only a GPU has: transfers, the caching allocator, determinism, a GPU checkpoint on the CPU.
gtests gpu_tests 180 '*' nf_gpu_tests

# 3. smoke recipe: train on cuda, evaluate the final checkpoint on cuda and on cpu
SMOKE=$LOG/smoke
rm -rf "$SMOKE"
step smoke_train 180 "$RUN" normforge train "$BUNDLE/configs/smoke.yaml" --set device=cuda \
  --set data.root="$ROOT" --set trainer.out_dir="$SMOKE"
for dev in cuda cpu; do
  step "smoke_eval_$dev" 120 "$RUN" normforge eval "$BUNDLE/configs/smoke.yaml" --checkpoint "$SMOKE/final" --json \
    --set device=$dev --set data.root="$ROOT" --set conv_algorithm=direct
done

# 4. benchmarks
for model in resnet20 resnet18; do
  config=$BUNDLE/configs/${model}_cifar10.yaml
  for p in fp32 tf32; do
    step "bench_nf_${model}_$p" 120 "$RUN" normforge bench "$config" --batch $BATCH --iters "$ITERS" --json \
      --set device=cuda --set channels_last=true --set cudnn_benchmark=true --set precision=$p
  done
  for mode in fp32 tf32 amp_bf16 compile_amp_bf16; do
    limit=90
    [ $mode = compile_amp_bf16 ] && limit=240
    step "bench_torch_${model}_$mode" $limit "$PY" "$BUNDLE/tools/scripts/gpu/pytorch_gpu_bench.py" --model $model \
      --config "$config" --batch $BATCH --iters "$ITERS" --mode $mode --json
  done
done

# 5. summary
"$PY" - "$LOG" "$(($(date +%s) - T0))" <<'PY'
import json, os, re, sys

log, wall = sys.argv[1], int(sys.argv[2])
steps = {}
with open(os.path.join(log, "steps.tsv")) as f:
    for line in f:
        name, rc, secs = line.rstrip("\n").split("\t")
        steps[name] = {"rc": int(rc), "seconds": int(secs)}

def last_json(name):
    """The last JSON object line of LOG/name.log, or None."""
    try:
        with open(os.path.join(log, name + ".log"), errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None

def error_of(name):
    """The last non-empty line of a failed step's log (its error message)."""
    try:
        with open(os.path.join(log, name + ".log"), errors="replace") as f:
            lines = [l.strip() for l in f.read().splitlines() if l.strip()]
    except OSError:
        return "no log"
    rc = steps.get(name, {}).get("rc")
    msg = lines[-1] if lines else "no output"
    how = "time limit" if rc in (124, 137) else f"signal {rc - 128}" if rc and rc > 128 else f"exit {rc}"
    return f"{how}: {msg[:300]}"

# GPU tests of each binary, merged over the attempts (a later attempt's result replaces an
# earlier one)
def test_results(base):
    results, notes = {}, []
    attempts = sorted((n for n in steps if n == base or re.fullmatch(re.escape(base) + r"_\d+", n)),
                      key=lambda n: int(n.rsplit("_", 1)[1]) if n != base else 1)
    for name in attempts:
        try:
            with open(os.path.join(log, name + ".json")) as f:
                g = json.load(f)
            for suite in g.get("testsuites", []):
                for t in suite.get("testsuite", []):
                    full = f"{suite['name']}.{t['name']}"
                    if t.get("failures"):
                        results[full] = "failed"
                    elif t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
                        results[full] = "skipped"
                    else:
                        results[full] = "passed"
        except (OSError, ValueError):  # no JSON: crashed, hung or did not start; read the log
            notes.append(f"{name}: exit {steps[name]['rc']}, no gtest JSON (see {name}.log)")
            try:
                with open(os.path.join(log, name + ".log"), errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            for status, full in re.findall(r"^\[ +(OK|FAILED|SKIPPED) +\] (\S+) \(", text, re.M):
                results[full] = {"OK": "passed", "FAILED": "failed", "SKIPPED": "skipped"}[status]
    crashed = []
    if os.path.exists(os.path.join(log, base + "_crashed.tsv")):
        with open(os.path.join(log, base + "_crashed.tsv")) as f:
            for line in f:
                full, rc = line.split()
                how = "time limit" if rc == "124" else f"signal {int(rc) - 128}" if int(rc) > 128 else f"exit {rc}"
                results[full] = "failed"
                crashed.append(f"{full} (crashed: {how})")
    tests = {s: sum(1 for v in results.values() if v == s) for s in ("passed", "failed", "skipped")}
    tests["failing"] = [n for n, v in results.items()
                        if v == "failed" and not any(c.startswith(n + " ") for c in crashed)] + crashed
    tests["attempts"] = len(attempts)
    if notes:
        tests["notes"] = notes
    if not results:
        tests["error"] = f"no test results: see {base}.log"
    return tests

typed_tests, tests = test_results("typed_tests"), test_results("gpu_tests")

# smoke train / eval
smoke = {"train_rc": steps.get("smoke_train", {}).get("rc"), "train_seconds": steps.get("smoke_train", {}).get("seconds")}
metrics = os.path.join(log, "smoke", "metrics.jsonl")
if os.path.exists(metrics):
    with open(metrics) as f:
        rows = [json.loads(l) for l in f if l.strip()]
    smoke["last_epoch"] = rows[-1] if rows else None
for dev in ("cuda", "cpu"):
    name = f"smoke_eval_{dev}"
    smoke[f"eval_{dev}"] = last_json(name) if steps.get(name, {}).get("rc") == 0 else {"error": error_of(name)}
ec, ep = smoke["eval_cuda"], smoke["eval_cpu"]
if ec and ep and "top1" in ec and "top1" in ep:
    smoke["same_top1"] = ec["top1"] == ep["top1"]
    smoke["loss_rel_diff"] = abs(ec["loss"] - ep["loss"]) / max(abs(ep["loss"]), 1e-12)

# benchmarks
bench = {}
for model in ("resnet20", "resnet18"):
    torch_res = {}
    for mode in ("fp32", "tf32", "amp_bf16", "compile_amp_bf16"):
        name = f"bench_torch_{model}_{mode}"
        j = last_json(name) if steps.get(name, {}).get("rc") == 0 else None
        torch_res[mode] = ({k: j.get(k) for k in ("train_images_per_s", "eval_images_per_s", "train_warmup_s",
                                                  "peak_gpu_mem_mib")} if j else {"error": error_of(name)})
    entry = {"pytorch": torch_res, "normforge": {}}
    for p in ("fp32", "tf32"):
        name = f"bench_nf_{model}_{p}"
        j = last_json(name) if steps.get(name, {}).get("rc") == 0 else None
        if not j:
            entry["normforge"][p] = {"error": error_of(name)}
            continue
        r = {k: j.get(k) for k in ("train_images_per_s", "eval_images_per_s", "gflops", "peak_rss_mib")}
        # normforge at precision p against PyTorch's matching mode, eager bf16 autocast and torch.compile
        same = {"fp32": "fp32", "tf32": "tf32"}[p]
        for label, mode in (("vs_pytorch_same_precision", same), ("vs_pytorch_eager_amp", "amp_bf16"),
                            ("vs_torch_compile", "compile_amp_bf16")):
            t = torch_res[mode]
            for kind in ("train", "eval"):
                a, b = r.get(f"{kind}_images_per_s"), t.get(f"{kind}_images_per_s")
                if a and b:
                    r[f"{kind}_ratio_{label}"] = a / b
        entry["normforge"][p] = r
    bench[model] = entry

summary = {"device": open(os.path.join(log, "nvidia_smi.log"), errors="replace").read().strip()
           if os.path.exists(os.path.join(log, "nvidia_smi.log")) else None,
           "wall_seconds": wall, "typed_cuda_tests": typed_tests, "gpu_tests": tests, "smoke": smoke, "bench": bench, "steps": steps}
with open(os.path.join(log, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)

# table
fmt = lambda v: f"{v:9.0f}" if isinstance(v, (int, float)) else f"{'-':>9}"
rat = lambda v: f"{v:6.2f}" if isinstance(v, (int, float)) else f"{'-':>6}"
print(f"\nGPU: {summary['device']}")
for label, t in (("typed tests (nf_tests */CUDA)", typed_tests), ("GPU-only tests (nf_gpu_tests)", tests)):
    print(f"{label}: {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped"
          + (f"  FAILING: {', '.join(t['failing'])}" if t["failing"] else "")
          + (f"  ({t['error']})" if "error" in t else "")
          + (f"  [{t['attempts']} runs: crashes excluded one by one]" if t["attempts"] > 1 else ""))
print(f"smoke: train rc {smoke['train_rc']}; eval cuda {ec}; eval cpu {ep}")
print(f"\n{'model':9} {'what':28} {'train img/s':>11} {'eval img/s':>10} {'nf/amp':>6} {'nf/compile':>10}")
for model, e in bench.items():
    for p, r in e["normforge"].items():
        if "error" in r:
            print(f"{model:9} {'normforge ' + p:28} {'error: ' + r['error'][:60]}")
            continue
        print(f"{model:9} {'normforge ' + p:28} {fmt(r['train_images_per_s']):>11} {fmt(r['eval_images_per_s']):>10} "
              f"{rat(r.get('train_ratio_vs_pytorch_eager_amp')):>6} {rat(r.get('train_ratio_vs_torch_compile')):>10}")
    for mode, t in e["pytorch"].items():
        if "error" in t:
            print(f"{model:9} {'pytorch ' + mode:28} {'error: ' + t['error'][:60]}")
            continue
        print(f"{model:9} {'pytorch ' + mode:28} {fmt(t['train_images_per_s']):>11} {fmt(t['eval_images_per_s']):>10}")
print(f"\n(ratios: normforge train img/s over PyTorch eager bf16 autocast / torch.compile; "
      f"eval ratios in summary.json) wall {wall} s; logs and summary.json in {log}")
PY

summary_rc=$?
printf 'summary\t%s\t0\n' "$summary_rc" >>"$STEPS"

# Any failed step fails the check, loudly: a GPU check must not fail unnoticed.
failed=$(awk -F'\t' '$2 != 0 {printf "%s%s (exit %s)", sep, $1, $2; sep = ", "}' "$STEPS")
if [ -n "$failed" ]; then
  echo "GPU CHECK FAILED: $(awk -F'\t' '$2 != 0' "$STEPS" | wc -l) step(s) failed: $failed" >&2
  exit 1
fi
echo "GPU check passed: every step exited 0" >&2
