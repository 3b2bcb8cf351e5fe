# Speed regression guard against PyTorch eager: tools/scripts/bench/compare_pytorch.sh reduced to
# ResNet-20, batch 32, 2 rounds of a few steps (about a minute on 2 cores). normforge's
# train and eval img/s must stay at or above FLOOR x PyTorch's best layout (a loose floor:
# other tests run in parallel and the rounds are short). Skips where Debian's python has no torch.
source "$(dirname "$0")/common.bash"
FLOOR=0.5
"$PY" -c "import torch, yaml" 2>/dev/null || { echo "SKIP: $PY cannot import torch and yaml"; exit 77; }
bash "$SRC/tools/scripts/bench/compare_pytorch.sh" --normforge "$NF" --models resnet20 --batch 32 --rounds 2 \
  --iters 10 --threads 2 --json "$TMP/cmp.json" >"$TMP/out" 2>"$TMP/err" ||
  { cat "$TMP/out" "$TMP/err" >&2; fail "compare_pytorch.sh failed: $(tail -n 1 "$TMP/err")"; }
cat "$TMP/out"
"$PY" - "$TMP/cmp.json" "$FLOOR" <<'PYEOF' || fail "normforge is below ${FLOOR}x PyTorch's best (see above)"
import json, sys
m = json.load(open(sys.argv[1]))["medians"]["resnet20"]
floor = float(sys.argv[2])
print(f"normforge / PyTorch best: train {m['ratio_train']:.2f}x, eval {m['ratio_eval']:.2f}x (floor {floor}x)")
sys.exit(0 if m["ratio_train"] >= floor and m["ratio_eval"] >= floor else 1)
PYEOF
echo "bench_vs_pytorch: ok"
