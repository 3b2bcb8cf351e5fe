#!/usr/bin/env bash
# Data-parallel scaling on this machine's 2 cores, side by side in one run: ResNet-20
# (configs/resnet20_cifar10.yaml) trained with a global batch of 128 as
#   normforge  1 rank x 2 threads, batch 128       (`normforge train`, threads=2)
#   normforge  2 ranks x 1 thread, batch 64 each   (mpirun -np 2, threads=1)
#   PyTorch    1 process x 2 threads, batch 128    (tools/scripts/bench/ddp_bench.py)
#   PyTorch    DDP gloo, 2 processes x 1 thread, batch 64 each
# and a markdown table of images/s (global), scaling efficiency = img/s(2 x 1 thread) /
# img/s(1 x 2 threads), and the allreduce's cost per step.
#
# normforge trains on the CIFAR-10 sample (2,000 images; the recipe's augmentation) with
# trainer.log_every = the steps per epoch, for DIST_BENCH_EPOCHS epochs: the first is
# warm-up, img/s is the mean over the others of the progress line at each epoch's last
# step (global images per second since the epoch start, before the end-of-run
# evaluation); the allreduce wait is metrics.jsonl's allreduce_wait_ms (rank 0's mean wait
# per step in the gradient allreduce) over the same epochs. PyTorch trains on synthetic
# data (randn, random labels): DIST_BENCH_WARMUP warm-up steps, then DIST_BENCH_STEPS timed
# steps; its allreduce cost is the DDP step time minus the step time under ddp.no_sync().
#
# usage: tools/scripts/bench/dist_bench.sh [NORMFORGE]  (default build/normforge)
# environment: DIST_BENCH_EPOCHS (normforge epochs, >= 2, default 6), DIST_BENCH_STEPS
#   (PyTorch timed steps, default 40), DIST_BENCH_WARMUP (PyTorch warm-up steps, default 5),
#   DIST_BENCH_WORKERS (normforge data.workers per rank, default 1),
#   DIST_BENCH_LAYOUT (PyTorch memory format: nchw or channels_last, default nchw),
#   DIST_BENCH_SAMPLE (the CIFAR-10 binary folder, default ../shared/data/cifar10-sample/...).
# A short check that it works: DIST_BENCH_EPOCHS=2 DIST_BENCH_STEPS=3 DIST_BENCH_WARMUP=1.
# Run it on a quiet machine: every set-up uses both cores.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
PY=/usr/bin/python3  # Debian's python with torch 1.13 (the pyenv one has none)
NF=${1:-$REPO/build/normforge}
EPOCHS=${DIST_BENCH_EPOCHS:-6} STEPS=${DIST_BENCH_STEPS:-40} WARMUP=${DIST_BENCH_WARMUP:-5}
WORKERS=${DIST_BENCH_WORKERS:-1} LAYOUT=${DIST_BENCH_LAYOUT:-nchw}
SAMPLE=${DIST_BENCH_SAMPLE:-$REPO/../shared/data/cifar10-sample/cifar-10-batches-bin}
RECIPE=configs/resnet20_cifar10.yaml
BATCH=128  # global

die() { echo "dist_bench: $*" >&2; exit 1; }
[[ "$EPOCHS" =~ ^[0-9]+$ && "$EPOCHS" -ge 2 ]] || die "DIST_BENCH_EPOCHS must be >= 2 (the first epoch is warm-up), got '$EPOCHS'"
[[ "$STEPS" =~ ^[1-9][0-9]*$ ]] || die "DIST_BENCH_STEPS must be a positive integer, got '$STEPS'"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "DIST_BENCH_WARMUP must be a non-negative integer, got '$WARMUP'"
[[ "$WORKERS" =~ ^[0-9]+$ ]] || die "DIST_BENCH_WORKERS must be a non-negative integer, got '$WORKERS'"
case "$LAYOUT" in nchw|channels_last) ;; *) die "DIST_BENCH_LAYOUT must be nchw or channels_last, got '$LAYOUT'" ;; esac
[ -x "$NF" ] || die "normforge binary not found or not executable: $NF"
NF=$(realpath "$NF")
[ -f "$SAMPLE/data_batch_1.bin" ] || die "no CIFAR-10 sample at $SAMPLE (set DIST_BENCH_SAMPLE)"
SAMPLE=$(realpath "$SAMPLE")
command -v mpirun >/dev/null || die "mpirun not installed (tools/setup.sh installs OpenMPI)"
"$PY" -c "import torch, yaml" 2>/dev/null || die "$PY cannot import torch and yaml (apt install python3-torch python3-yaml)"
cd "$REPO"
source tests/cli/dist_common.bash  # mpirun2: 2 ranks, 1 thread each, no binding, oversubscribe

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The sample's images and, for each set-up, its steps per epoch (the last batch may be short).
IMAGES=$(( $(stat -c %s "$SAMPLE/data_batch_1.bin") / 3073 ))
steps_per_epoch() { local ranks=$1 per_rank; per_rank=$(( (IMAGES + ranks - 1) / ranks )); echo $(( (per_rank + BATCH / ranks - 1) / (BATCH / ranks) )); }

echo "date:     $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "machine:  $(lscpu | sed -n 's/^Model name: *//p' | head -1), nproc $(nproc)"
echo "versions: torch $("$PY" -c 'import torch; print(torch.__version__)'), $(mpirun --version 2>/dev/null | head -1)"
echo "settings: ResNet-20 ($RECIPE), global batch $BATCH; normforge: CIFAR-10 sample ($IMAGES images), $EPOCHS epochs (first = warm-up), data.workers $WORKERS per rank; PyTorch: synthetic data, $WARMUP warm-up + $STEPS timed steps, $LAYOUT"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the runs"
echo

# nf_run NAME RANKS: trains, prints "IMG_PER_S WAIT_MS" (WAIT_MS "-" for 1 rank).
nf_run() {
  local name=$1 ranks=$2 threads steps out=$TMP/$1
  threads=$(( 2 / ranks ))
  steps=$(steps_per_epoch "$ranks")
  local args=(train "$RECIPE" --set threads="$threads" --set data.root="$SAMPLE" --set data.batch_size=$((BATCH / ranks))
              --set data.workers="$WORKERS" --set trainer.epochs="$EPOCHS" --set trainer.log_every="$steps"
              --set trainer.eval_every=0 --set trainer.checkpoint_every=0 --set trainer.out_dir="$out")
  local rc=0
  if [ "$ranks" = 1 ]; then
    OMP_NUM_THREADS=$threads "$NF" "${args[@]}" >"$out.log" 2>&1 || rc=$?
  else
    mpirun_n "$ranks" "$NF" "${args[@]}" >"$out.log" 2>&1 || rc=$?
  fi
  [ "$rc" = 0 ] || { tail -n 20 "$out.log" >&2; die "normforge $name failed (exit $rc)"; }
  grep -q "$steps steps per epoch" "$out.log" || { cat "$out.log" >&2; die "normforge $name: expected $steps steps per epoch"; }
  "$PY" - "$out.log" "$out/metrics.jsonl" "$steps" "$EPOCHS" "$ranks" <<'PYEOF'
import json, re, sys
log, metrics, steps, epochs, ranks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rates = {}
for line in open(log):
    m = re.search(r"epoch (\d+)/\d+ step (\d+)/(\d+) .* (\d+(?:\.\d+)?) img/s", line)
    if m and int(m.group(2)) == steps:
        rates[int(m.group(1))] = float(m.group(4))
want = list(range(2, epochs + 1))
missing = [e for e in want if e not in rates]
if missing:
    sys.exit(f"dist_bench: no progress line at the last step of epochs {missing} in {log}")
ips = sum(rates[e] for e in want) / len(want)
wait = "-"
if ranks > 1:
    lines = [json.loads(l) for l in open(metrics) if l.strip()]
    w = [l["allreduce_wait_ms"] for l in lines if l.get("epoch", 0) >= 2 and "allreduce_wait_ms" in l]
    if len(w) != len(want):
        sys.exit(f"dist_bench: expected allreduce_wait_ms for epochs {want} in {metrics}, got {len(w)} values")
    wait = f"{sum(w) / len(w):.1f}"
detail = ", ".join(f"{rates[e]:.0f}" for e in want)
print(f"  normforge {ranks} rank(s): img/s per measured epoch: {detail}" + (f"; allreduce_wait_ms: {', '.join(f'{x:.1f}' for x in w)}" if ranks > 1 else ""), file=sys.stderr)
print(f"{ips:.1f} {wait}")
PYEOF
}

# pt_run PROCS THREADS: prints "IMG_PER_S EXPOSED_MS" (EXPOSED_MS "-" for 1 process).
pt_run() {
  local procs=$1 threads=$2 rc=0
  OMP_NUM_THREADS=$threads "$PY" tools/scripts/bench/ddp_bench.py --config "$RECIPE" --procs "$procs" --threads "$threads" \
    --batch $((BATCH / procs)) --steps "$STEPS" --warmup "$WARMUP" --layout "$LAYOUT" >"$TMP/pt$procs.log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { tail -n 20 "$TMP/pt$procs.log" >&2; die "PyTorch $procs x $threads failed (exit $rc)"; }
  tail -n 1 "$TMP/pt$procs.log" | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.read())
print("%.1f" % r["images_per_s"], "%.1f" % r["allreduce_exposed_ms"] if "allreduce_exposed_ms" in r else "-")'
}

T0=$SECONDS
echo "normforge 1 rank x 2 threads ..." >&2;      read -r NF1 _ < <(nf_run one 1)
echo "normforge 2 ranks x 1 thread ..." >&2;      read -r NF2 NFW < <(nf_run two 2)
echo "PyTorch 1 process x 2 threads ..." >&2;     read -r PT1 _ < <(pt_run 1 2)
echo "PyTorch DDP 2 processes x 1 thread ..." >&2; read -r PT2 PTW < <(pt_run 2 1)
[ -n "$NF1" ] && [ -n "$NF2" ] && [ -n "$PT1" ] && [ -n "$PT2" ] || die "a measurement failed (see above)"
eff() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the runs; $((SECONDS - T0)) s"
echo
echo "| framework | set-up | batch | img/s (global) | scaling efficiency | allreduce per step |"
echo "|---|---|---|---:|---:|---|"
echo "| normforge | 1 rank x 2 threads | 128 | $NF1 | 1 (reference) | - |"
echo "| normforge | 2 ranks x 1 thread (MPI) | 2 x 64 | $NF2 | $(eff "$NF2" "$NF1") | $NFW ms wait (rank 0 mean, allreduce_wait_ms) |"
echo "| PyTorch $("$PY" -c 'import torch; print(torch.__version__)') | 1 process x 2 threads | 128 | $PT1 | 1 (reference) | - |"
echo "| PyTorch | 2 processes x 1 thread (DDP, gloo) | 2 x 64 | $PT2 | $(eff "$PT2" "$PT1") | $PTW ms exposed (DDP step - no_sync step) |"
echo
echo "normforge 2 ranks / PyTorch DDP: $(eff "$NF2" "$PT2") x; normforge 1 rank / PyTorch 1 process: $(eff "$NF1" "$PT1") x"
