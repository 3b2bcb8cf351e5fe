#!/usr/bin/env bash
# Side-by-side training/evaluation throughput of normforge and PyTorch eager (NCHW and
# channels-last) on the same ResNets, synthetic CIFAR-shaped data, same batch and threads.
# Per model and round it runs, one after the other and each in a fresh process (peak RSS
# is per process): `normforge bench`, pytorch_bench.py --layout nchw, --layout
# channels_last. It prints per model the medians over rounds and normforge/PyTorch-best
# ratios (median of the per-round ratios; PyTorch's best = faster layout per round and
# per metric). With --json FILE it also writes every raw run and the medians.
#
# usage: tools/scripts/bench/compare_pytorch.sh [--rounds R] [--iters N] [--threads T] [--batch B]
#          [--models "resnet20 resnet56 resnet18"] [--normforge PATH] [--json FILE]
# A --models entry is a ResNet name (configs/NAME_cifar10.yaml) or the path of a recipe
# with model.layers (e.g. configs/experiments/dropout_before_bn.yaml), reported by its
# file name.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
PY=/usr/bin/python3  # Debian's python with torch 1.13 (the pyenv one has none)
ROUNDS=3 ITERS=20 THREADS=2 BATCH=128 MODELS="resnet20 resnet56 resnet18"
NF="$REPO/build/normforge" JSON_OUT=""

die() { echo "compare_pytorch: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "missing value for $1"
  case "$1" in
    --rounds) ROUNDS=$2 ;;
    --iters) ITERS=$2 ;;
    --threads) THREADS=$2 ;;
    --batch) BATCH=$2 ;;
    --models) MODELS=$2 ;;
    --normforge) NF=$2 ;;
    --json) JSON_OUT=$2 ;;
    *) die "unknown argument $1 (see the usage at the top of $0)" ;;
  esac
  shift 2
done
for v in "$ROUNDS" "$ITERS" "$THREADS" "$BATCH"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "--rounds, --iters, --threads and --batch must be positive integers, got '$v'"
done
[ -x "$NF" ] || die "normforge binary not found or not executable: $NF"
NF=$(realpath "$NF")
# recipe M: the recipe of a --models entry; key M: its name in the report.
recipe() { case "$1" in *.yaml) echo "$1" ;; *) echo "configs/${1}_cifar10.yaml" ;; esac; }
key() { basename "$1" .yaml; }
for m in $MODELS; do [ -f "$REPO/$(recipe "$m")" ] || die "no recipe $(recipe "$m")"; done
"$PY" -c "import torch, yaml" 2>/dev/null || die "$PY cannot import torch and yaml (apt install python3-torch python3-yaml)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export OMP_NUM_THREADS=$THREADS
cd "$REPO"

onednn_version() {
  local lib pkg
  lib=$(ldd "$NF" 2>/dev/null | awk '/libdnnl/{print $3; exit}') || true
  [ -n "$lib" ] || { echo unknown; return; }
  pkg=$(dpkg -S "$(realpath "$lib")" 2>/dev/null | head -1 | sed 's/: .*//') || true
  if [ -n "$pkg" ] && dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null; then return; fi
  basename "$(realpath "$lib")"
}

DATE=$(date '+%Y-%m-%d %H:%M:%S %Z')
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
TORCH_V=$("$PY" -c 'import torch; print(torch.__version__)')
ONEDNN_V=$(onednn_version)
echo "date:     $DATE"
echo "machine:  $CPU, nproc $(nproc)"
echo "versions: torch $TORCH_V, normforge oneDNN $ONEDNN_V"
echo "settings: batch $BATCH, $THREADS threads (OMP_NUM_THREADS=$THREADS), $ROUNDS rounds x $ITERS timed steps (3 warm-up)"
echo "normforge: $NF"
echo

# run NAME OUTFILE -- command...: runs it, keeps stdout; a failure or no JSON last line is fatal.
run() {
  local name=$1 out=$2; shift 3
  local rc=0
  "$@" >"$out" 2>"$TMP/err" || rc=$?
  [ "$rc" = 0 ] || die "$name failed (exit $rc): $(tail -n 1 "$TMP/err")"
  tail -n 1 "$out" | grep -q '^{' || die "$name printed no JSON last line: $(tail -n 1 "$out")"
  echo "  $name: $(grep -v '^{' "$out" | grep -E 'train:|eval:|^pytorch' | tr -s ' ' | paste -sd ' ')" >&2
}

KEYS=""
for m in $MODELS; do
  k=$(key "$m") cfg=$(recipe "$m")
  KEYS="$KEYS $k"
  model_arg=(); case "$m" in *.yaml) ;; *) model_arg=(--model "$m") ;; esac
  for r in $(seq 1 "$ROUNDS"); do
    echo "$k round $r/$ROUNDS" >&2
    run "normforge $k round $r" "$TMP/$k.$r.normforge.out" -- \
      "$NF" bench "$cfg" --batch "$BATCH" --iters "$ITERS" --threads "$THREADS" --json
    for layout in nchw channels_last; do
      run "pytorch $k $layout round $r" "$TMP/$k.$r.$layout.out" -- \
        "$PY" "$HERE/pytorch_bench.py" "${model_arg[@]}" --config "$cfg" --batch "$BATCH" --iters "$ITERS" \
        --threads "$THREADS" --layout "$layout" --num-classes 10 --json
    done
  done
done
echo >&2

"$PY" - "$TMP" "$ROUNDS" "$ITERS" "$THREADS" "$BATCH" "$JSON_OUT" "$KEYS" \
  "$DATE" "$CPU" "$(nproc)" "$TORCH_V" "$ONEDNN_V" <<'PYEOF'
import json, statistics, sys
tmp, rounds, iters, threads, batch, json_out, models, date, cpu, nproc, torch_v, onednn_v = sys.argv[1:13]
rounds, models = int(rounds), models.split()
med = statistics.median

def load(m, r, tool):
    with open(f"{tmp}/{m}.{r}.{tool}.out") as f:
        return json.loads(f.read().strip().splitlines()[-1])

raw, medians = [], {}
for m in models:
    rows = []
    for r in range(1, rounds + 1):
        nf, pt = load(m, r, "normforge"), {l: load(m, r, l) for l in ("nchw", "channels_last")}
        bt = max(pt, key=lambda l: pt[l]["train_images_per_s"])
        be = max(pt, key=lambda l: pt[l]["eval_images_per_s"])
        best = {"train_images_per_s": pt[bt]["train_images_per_s"], "train_layout": bt,
                "eval_images_per_s": pt[be]["eval_images_per_s"], "eval_layout": be,
                "peak_rss_mib": pt[bt]["peak_rss_mib"]}
        rows.append({"model": m, "round": r, "normforge": nf, "pytorch_nchw": pt["nchw"],
                     "pytorch_channels_last": pt["channels_last"], "pytorch_best": best,
                     "ratio_train": nf["train_images_per_s"] / best["train_images_per_s"],
                     "ratio_eval": nf["eval_images_per_s"] / best["eval_images_per_s"]})
    raw += rows
    col = lambda k, f: med(row[k][f] for row in rows)
    md = {k: {f: col(k, f) for f in ("train_images_per_s", "eval_images_per_s", "peak_rss_mib")}
          for k in ("normforge", "pytorch_nchw", "pytorch_channels_last", "pytorch_best")}
    md["ratio_train"] = med(row["ratio_train"] for row in rows)
    md["ratio_eval"] = med(row["ratio_eval"] for row in rows)
    medians[m] = md
    print(f"{m}: batch {batch}, {threads} threads, median of {rounds} round(s) x {iters} steps")
    print(f"  {'':24}{'train img/s':>12}{'eval img/s':>12}{'peak RSS MiB':>14}")
    for k, label in (("normforge", "normforge"), ("pytorch_nchw", "PyTorch NCHW"),
                     ("pytorch_channels_last", "PyTorch channels-last"), ("pytorch_best", "PyTorch best *")):
        print(f"  {label:24}{md[k]['train_images_per_s']:12.1f}{md[k]['eval_images_per_s']:12.1f}"
              f"{md[k]['peak_rss_mib']:14.0f}")
    print(f"  {'normforge / PyTorch best':24}{md['ratio_train']:11.2f}x{md['ratio_eval']:11.2f}x")
    layouts = ", ".join(f"r{row['round']}: {row['pytorch_best']['train_layout']}/{row['pytorch_best']['eval_layout']}"
                        for row in rows)
    print(f"  best layout train/eval per round: {layouts}\n")
print("* PyTorch best: per round, the faster layout for train and for eval separately; its peak RSS is")
print("  that of the run best for training. Ratios are medians of the per-round ratios.")

if json_out:
    out = {"date": date, "cpu": cpu, "nproc": int(nproc), "torch": torch_v, "onednn": onednn_v,
           "batch": int(batch), "threads": int(threads), "iters": int(iters), "rounds": rounds,
           "raw": raw, "medians": medians}
    with open(json_out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"raw rounds and medians written to {json_out}")
PYEOF
