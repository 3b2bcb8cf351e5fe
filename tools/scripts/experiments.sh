#!/usr/bin/env bash
# Runs every recipe in configs/experiments/ (the BatchNorm questions of issue 12) once and
# writes a markdown table: question, variant, batch, test top-1, wall time per row.
#   tools/scripts/experiments.sh [OUT.md]          (default: configs/experiments/RESULTS.md)
#   NF=path/to/normforge tools/scripts/experiments.sh   (default: build/normforge)
#   EXP_WORK=DIR keeps the run folders there (default: a temporary folder, removed at the end)
# Top-1 is the trainer's final evaluation on the full Fashion-MNIST test set (10,000 images),
# the last line of the run's metrics.jsonl; time is the wall time of the whole `normforge train`
# command (data loading, training and that evaluation).
set -euo pipefail
cd "$(dirname "$0")/../.."
NF=${NF:-build/normforge}
OUT=${1:-configs/experiments/RESULTS.md}
[ -x "$NF" ] || { echo "experiments: $NF not found or not executable (build it, or set NF)" >&2; exit 1; }
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
  { echo "experiments: Fashion-MNIST missing in /usr/share/datasets/fashion-mnist (run tools/setup.sh)" >&2; exit 1; }

# recipe|question|variant, in table order; every configs/experiments/*.yaml must be listed.
ROWS=(
  "bn_before_relu|BatchNorm before or after ReLU|conv → BN → ReLU"
  "bn_after_relu|BatchNorm before or after ReLU|conv → ReLU → BN"
  "dropout_none|Dropout before or after BatchNorm|no dropout"
  "dropout_before_bn|Dropout before or after BatchNorm|conv → dropout 0.2 → BN → ReLU"
  "dropout_after_bn|Dropout before or after BatchNorm|conv → BN → ReLU → dropout 0.2"
  "mlp_plain|MLP with or without BatchNorm1d|784-256-256-10, no BN"
  "mlp_bn1d|MLP with or without BatchNorm1d|784-256-256-10, BatchNorm1d before each ReLU"
  "batch2_batch_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|BatchNorm"
  "batch2_ghost_bn|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|ghost BN, virtual_batch 2 (= the batch: plain BN)"
  "batch2_group_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|GroupNorm, 4 groups"
  "batch2_layer_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|LayerNorm"
  "batch4_batch_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|BatchNorm"
  "batch4_ghost_bn|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|ghost BN, virtual_batch 2"
  "batch4_group_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|GroupNorm, 4 groups"
  "batch4_layer_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|LayerNorm"
  "batch32_batch_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|BatchNorm"
  "batch32_ghost_bn|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|ghost BN, virtual_batch 8"
  "batch32_group_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|GroupNorm, 4 groups"
  "batch32_layer_norm|Tiny batches: BN, ghost BN, GroupNorm, LayerNorm|LayerNorm"
)
listed=" "
for row in "${ROWS[@]}"; do listed+="${row%%|*} "; done
for f in configs/experiments/*.yaml; do
  n=$(basename "$f" .yaml)
  [[ "$listed" == *" $n "* ]] || { echo "experiments: $f is not in tools/scripts/experiments.sh's ROWS" >&2; exit 1; }
done

if [ -n "${EXP_WORK:-}" ]; then
  WORK=$EXP_WORK; mkdir -p "$WORK"
else
  WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fi
yaml_value() { sed -nE "s/^ *$2: *([^ #]+).*/\1/p" "$1" | head -1; }

body=""
prev_q=""
start_all=$(date +%s)
load_start=$(cut -d" " -f1-3 /proc/loadavg)
for row in "${ROWS[@]}"; do
  IFS='|' read -r name question variant <<<"$row"
  recipe=configs/experiments/$name.yaml
  [ -f "$recipe" ] || { echo "experiments: $recipe missing" >&2; exit 1; }
  batch=$(yaml_value "$recipe" batch_size)
  echo "experiments: $name ..." >&2
  t0=$(date +%s.%N)
  if ! "$NF" train "$recipe" --set trainer.out_dir="$WORK/$name" >"$WORK/$name.log" 2>&1; then
    tail -5 "$WORK/$name.log" >&2
    echo "experiments: $name failed (log above)" >&2
    top1="failed"
  else
    top1=$(python3 -c "import json,sys; t=json.loads(open(sys.argv[1]).readlines()[-1])['test_top1']; print('none' if t is None else '%.2f %%' % (100 * t))" "$WORK/$name/metrics.jsonl")
  fi
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
  echo "experiments: $name: top-1 $top1, ${secs} s" >&2
  q=$question; [ "$q" = "$prev_q" ] && q=""; prev_q=$question
  body+="| $q | $variant | $batch | $top1 | $secs | \`$name.yaml\` |"$'\n'
done
total=$(( $(date +%s) - start_all ))

cpu=$(sed -nE 's/^model name\s*: *//p' /proc/cpuinfo | head -1)
{
  echo "# The BatchNorm questions, measured"
  echo
  echo "Fashion-MNIST, test top-1 on the full 10,000-image test set after training; time is the wall"
  echo "time of each \`normforge train\` (data loading, training, the final evaluation). One run of"
  echo "\`tools/scripts/experiments.sh\` on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo "Machine: $(nproc) cores (\`nproc\`), CPU \`$cpu\`, \`threads: 2\`; total ${total} s."
  echo "Load average (1/5/15 min) at the start: $load_start; at the end: $(cut -d" " -f1-3 /proc/loadavg)"
  echo "(above 2 means other processes shared the two cores, and the times are longer than on an idle machine)."
  echo
  echo "| question | variant | batch | top-1 | time s | recipe |"
  echo "|---|---|---|---|---|---|"
  printf '%s' "$body"
  echo
  echo "Command: \`tools/scripts/experiments.sh\` (each row alone: \`build/normforge train configs/experiments/RECIPE\`)."
  echo "Budgets: the CNN rows train 5 epochs at batch 128, the MLP rows 30 epochs; the tiny-batch rows"
  echo "two epochs (the same 120,000 images) at every batch size, lr 0.05 x batch / 32. SGD, nesterov"
  echo "momentum 0.9, weight decay 5e-4, cosine schedule, no augmentation, seed 0."
  echo "One seed per row; the seed-to-seed spread was not measured, so small differences may be noise."
} >"$OUT"
echo "experiments: wrote $OUT (${total} s)" >&2
