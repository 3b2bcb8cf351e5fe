#!/usr/bin/env bash
# Inference speed of a deployed model, side by side, same threads, same batch:
#   normforge  `normforge bench OUT/folded/config.yaml --json` (eval_images_per_s) on the
#              folded safetensors export (normforge export --format safetensors)
#   OpenCV     cv2.dnn on the folded ONNX export (normforge export --format onnx),
#              cv2.setNumThreads(T), fixed-size random input
#   PyTorch    torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(m.eval())))
#              on the same weights (tools/scripts/bench/torch_models.py; not for preact_resnet18,
#              which it does not build)
# each measurement in a fresh process, interleaved (normforge, OpenCV, PyTorch, normforge,
# ...) for R rounds per model and batch; prints a markdown table of the median img/s and
# the medians of the per-round ratios normforge/OpenCV and normforge/PyTorch.
#
# usage: tools/scripts/bench/deploy_bench.sh [--models "resnet20 preact_resnet18"] [--batches "128 1"]
#          [--rounds R] [--threads T] [--images N] [--config R.yaml --checkpoint CKPT]
#          [--normforge PATH] [--json FILE] [--malloc tuned|default]
# Without --checkpoint it trains each model 3 steps on the CIFAR-10 sample (speed does not
# depend on the weights). --config/--checkpoint: one trained model (the recipe it was
# trained with, and its checkpoint folder or model.safetensors) instead of --models.
# --images: images per timed measurement (iterations = N / batch, at least 10 and at most
# 500; default 2560). --json FILE: every raw measurement, one JSON object a line.
# --malloc tuned (default) runs all three with MALLOC_MMAP_THRESHOLD_=1 GiB and
# MALLOC_TRIM_THRESHOLD_=4 GiB: with glibc's defaults each batch-128 activation tensor of
# PyTorch is a fresh mmap whose pages fault in on every forward, which makes its frozen
# TorchScript path ~3x slower (1.2k instead of 3.5k img/s for ResNet-20 on 2 threads) until
# something frees a large block and raises glibc's dynamic threshold; --malloc default
# keeps glibc's defaults.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
PY=/usr/bin/python3  # Debian's python with numpy, cv2, torch 1.13 and yaml
SAMPLE="$REPO/../shared/data/cifar10-sample/cifar-10-batches-bin"
MODELS="resnet20" BATCHES="128 1" ROUNDS=3 THREADS=2 IMAGES=2560
NF="$REPO/build/normforge" CONFIG="" CKPT="" JSON_OUT="" MALLOC=tuned

die() { echo "deploy_bench: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "missing value for $1"
  case "$1" in
    --models) MODELS=$2 ;;
    --batches) BATCHES=$2 ;;
    --rounds) ROUNDS=$2 ;;
    --threads) THREADS=$2 ;;
    --images) IMAGES=$2 ;;
    --config) CONFIG=$2 ;;
    --checkpoint) CKPT=$2 ;;
    --normforge) NF=$2 ;;
    --json) JSON_OUT=$2 ;;
    --malloc) MALLOC=$2 ;;
    *) die "unknown argument $1 (see the usage at the top of $0)" ;;
  esac
  shift 2
done
for v in "$ROUNDS" "$THREADS" "$IMAGES" $BATCHES; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "--rounds, --threads, --images and --batches must be positive integers, got '$v'"
done
if [ -n "$CONFIG$CKPT" ]; then
  [ -n "$CONFIG" ] && [ -n "$CKPT" ] || die "--config and --checkpoint go together"
  [ -f "$CONFIG" ] || die "no recipe $CONFIG"
  [ -e "$CKPT" ] || die "no checkpoint $CKPT"
  CONFIG=$(realpath "$CONFIG") CKPT=$(realpath "$CKPT")
  MODELS=$(basename "$CONFIG" .yaml)
fi
[ -x "$NF" ] || die "normforge binary not found or not executable: $NF"
NF=$(realpath "$NF")
"$PY" -c "import cv2, torch, yaml, numpy" 2>/dev/null || die "$PY cannot import cv2, torch, yaml and numpy"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export OMP_NUM_THREADS=$THREADS
case $MALLOC in
  tuned) export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296 ;;
  default) ;;
  *) die "--malloc must be tuned or default, got '$MALLOC'" ;;
esac
cd "$REPO"

# prepare MODEL: $TMP/MODEL/{r.yaml, ckpt, folded/, model.onnx}.
prepare() {
  local m=$1 d="$TMP/$1"
  mkdir -p "$d"
  if [ -n "$CKPT" ]; then
    cp "$CONFIG" "$d/r.yaml"
    ln -s "$CKPT" "$d/ckpt"
  else
    [ -f "$SAMPLE/data_batch_1.bin" ] || die "no --checkpoint and no CIFAR-10 sample at $SAMPLE to train on"
    cat >"$d/r.yaml" <<YAML
seed: 0
threads: $THREADS
model: {name: $m}
data: {dataset: cifar10, root: $SAMPLE, batch_size: 16, eval_batch_size: 100, workers: 0,
       test_transforms: [{normalize: {mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616]}}]}
trainer: {epochs: 1, max_steps: 3, eval_every: 0, checkpoint_every: 0, out_dir: $d/run}
YAML
    "$NF" train "$d/r.yaml" >"$d/log" 2>&1 || { cat "$d/log" >&2; die "training $m"; }
    ln -s "$d/run/final" "$d/ckpt"
  fi
  "$NF" export "$d/r.yaml" --checkpoint "$d/ckpt" --format safetensors -o "$d/folded" >"$d/log" 2>&1 ||
    { cat "$d/log" >&2; die "$m: export --format safetensors"; }
  "$NF" export "$d/r.yaml" --checkpoint "$d/ckpt" --format onnx -o "$d/model.onnx" >"$d/log" 2>&1 ||
    { cat "$d/log" >&2; die "$m: export --format onnx"; }
}

# measure MODEL BATCH ROUND TOOL: one JSON line in $TMP/runs.jsonl.
measure() {
  local m=$1 b=$2 r=$3 tool=$4 d="$TMP/$1" iters out
  iters=$((IMAGES / b)); [ $iters -ge 10 ] || iters=10; [ $iters -le 500 ] || iters=500
  case $tool in
    normforge)
      out=$("$NF" bench "$d/folded/config.yaml" --batch "$b" --iters "$iters" --threads "$THREADS" --json 2>"$d/log" | tail -1) ||
        { cat "$d/log" >&2; die "$m: normforge bench --batch $b"; }
      out=$(echo "$out" | "$PY" -c "import json, sys; j = json.load(sys.stdin); print(json.dumps({'images_per_s': j['eval_images_per_s'], 'ms_per_batch': j['eval_ms_per_step']}))") ;;
    opencv)
      out=$("$PY" "$HERE/deploy_bench.py" opencv --onnx "$d/model.onnx" --batch "$b" --iters "$iters" --threads "$THREADS" 2>"$d/log" | tail -1) ||
        { cat "$d/log" >&2; die "$m: OpenCV --batch $b"; } ;;
    torch)
      out=$("$PY" "$HERE/deploy_bench.py" torch --config "$d/r.yaml" --checkpoint "$d/ckpt" --batch "$b" --iters "$iters" \
        --threads "$THREADS" 2>"$d/log" | tail -1) || { cat "$d/log" >&2; die "$m: PyTorch --batch $b"; } ;;
  esac
  echo "$out" | "$PY" -c "
import json, sys
j = json.load(sys.stdin)
j.update(model='$m', batch=$b, round=$r, tool='$tool', threads=$THREADS, iters=$iters)
print(json.dumps(j))" >>"$TMP/runs.jsonl"
  printf '  round %d %-16s batch %-4d %-9s %8.0f img/s\n' "$r" "$m" "$b" "$tool" \
    "$(tail -1 "$TMP/runs.jsonl" | "$PY" -c "import json, sys; print(json.load(sys.stdin)['images_per_s'])")" >&2
}

torch_builds() {  # torch_builds MODEL: whether tools/scripts/bench/torch_models.py builds the recipe's model
  "$PY" - "$TMP/$1/r.yaml" <<'PYEOF' 2>/dev/null
import sys, yaml
sys.path.insert(0, "tools/scripts/bench")
import torch_models
m = yaml.safe_load(open(sys.argv[1])).get("model", {}) or {}
if not m.get("layers"):
    name = m.get("name", "resnet20")
    ok = name in ("resnet18", "resnet34") or (name.startswith("resnet") and name[6:].isdigit())
    sys.exit(0 if ok else 1)
PYEOF
}

for m in $MODELS; do prepare "$m"; done
echo "normforge $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), $THREADS threads, batches $BATCHES, $ROUNDS rounds, malloc $MALLOC" >&2
for r in $(seq 1 "$ROUNDS"); do
  for m in $MODELS; do
    tools="normforge opencv"
    if torch_builds "$m"; then tools="$tools torch"; fi
    for b in $BATCHES; do
      for tool in $tools; do measure "$m" "$b" "$r" "$tool"; done
    done
  done
done
[ -z "$JSON_OUT" ] || cp "$TMP/runs.jsonl" "$JSON_OUT"
echo
"$PY" "$HERE/deploy_bench.py" report "$TMP/runs.jsonl"
echo "glibc malloc: $MALLOC"
