# Every configs/experiments/*.yaml parses, builds its listed network and trains one step,
# then evaluates; on a 256-image slice of Fashion-MNIST (and 100 test images) so that each
# recipe takes about a second. tools/scripts/experiments.sh must list every recipe.
source "$(dirname "$0")/common.bash"
FM=/usr/share/datasets/fashion-mnist
[ -f "$FM/train-images-idx3-ubyte.gz" ] && [ -f "$FM/t10k-images-idx3-ubyte.gz" ] ||
  { echo "SKIP: Fashion-MNIST not at $FM"; exit 77; }

# The first images and labels of each split, as plain IDX files the loader reads like the real ones.
MINI="$TMP/fashion-mnist"
"$PY" - "$FM" "$MINI" <<'PYEOF'
import gzip, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for split, n in (("train", 256), ("t10k", 100)):
    for kind, item in (("images-idx3", 28 * 28), ("labels-idx1", 1)):
        with gzip.open(f"{src}/{split}-{kind}-ubyte.gz", "rb") as f:
            magic = f.read(4)
            dims = list(struct.unpack(">%dI" % magic[3], f.read(4 * magic[3])))
            data = f.read(n * item)
        dims[0] = n
        with open(f"{dst}/{split}-{kind}-ubyte", "wb") as f:
            f.write(magic + struct.pack(">%dI" % len(dims), *dims) + data)
PYEOF

count=0
for r in configs/experiments/*.yaml; do
  name=$(basename "$r" .yaml)
  grep -q "^\s*layers:" "$r" || fail "$r: not a listed network (no model.layers)"
  head -1 "$r" | grep -q "^# Question:" || fail "$r: first line should say which question it belongs to"
  grep -q "\"$name|" tools/scripts/experiments.sh || fail "$r is not run by tools/scripts/experiments.sh"
  out="$TMP/$name"
  "$NF" train "$r" --set trainer.max_steps=1 --set trainer.out_dir="$out" --set data.root="$MINI" \
    --set data.workers=0 --set data.eval_batch_size=100 >"$TMP/log" 2>&1 ||
    { tail -5 "$TMP/log" >&2; fail "$r: training one step failed"; }
  [ -f "$out/final/model.safetensors" ] || fail "$r: no final/model.safetensors"
  "$PY" -c "import json,sys; j=json.loads(open(sys.argv[1]).readlines()[-1]); assert j['step']==1 and 0<=j['test_top1']<=1" \
    "$out/metrics.jsonl" 2>/dev/null || fail "$r: metrics.jsonl: $(cat "$out/metrics.jsonl")"
  count=$((count + 1))
done
[ "$count" -ge 19 ] || fail "only $count recipes in configs/experiments (expected the 19 of issue 12)"
echo "experiments: ok ($count recipes, one step each)"
