# Train smoke.yaml for a few steps, evaluate its checkpoint with --json, predict on PNGs,
# and print a summary whose totals are PyTorch's for ResNet-20.
source "$(dirname "$0")/common.bash"
need_sample
OUT="$TMP/run"
"$NF" train configs/smoke.yaml --set trainer.out_dir="$OUT" --set trainer.max_steps=6 2>"$TMP/log"
for f in model.safetensors trainer_state.safetensors config.yaml; do
  [ -f "$OUT/final/$f" ] || fail "final/$f missing"
done
[ -f "$OUT/metrics.jsonl" ] || fail "metrics.jsonl missing"
"$PY" -c "import json,sys; j=json.loads(open('$OUT/metrics.jsonl').readline()); assert j['step']==6 and 0<=j['test_top1']<=1, j" || fail "metrics.jsonl content"
grep -q "max_steps: 6" "$OUT/final/config.yaml" || fail "config.yaml is not the resolved recipe"
# trainer.eval_every: 0 evaluates at the end only, also when training runs by epochs.
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/end_only" --set trainer.max_steps=null \
  --set trainer.epochs=2 --set trainer.eval_every=0 --set data.batch_size=250 2>"$TMP/log_end_only"
"$PY" -c "import json; l=[json.loads(x) for x in open('$TMP/end_only/metrics.jsonl')]; assert len(l)==2 and l[0]['test_top1'] is None and 0<=l[1]['test_top1']<=1, l" \
  || fail "eval_every: 0 did not evaluate exactly the last epoch: $(cat "$TMP/end_only/metrics.jsonl")"

"$NF" eval configs/smoke.yaml --checkpoint "$OUT/final" --json >"$TMP/eval.json"
"$PY" -c "import json; j=json.load(open('$TMP/eval.json')); assert set(j)=={'loss','top1','top5','samples'} and j['samples']==1000 and 0<=j['top1']<=j['top5']<=1, j" \
  || fail "eval --json: $(cat "$TMP/eval.json")"
# The same weights through model.safetensors give the same numbers.
"$NF" eval configs/smoke.yaml --checkpoint "$OUT/final/model.safetensors" --json >"$TMP/eval2.json"
cmp -s "$TMP/eval.json" "$TMP/eval2.json" || fail "eval of the folder and of model.safetensors differ"

# Two PNGs (written with zlib: no imaging library needed) and predict.
"$PY" - "$TMP" <<'PYEOF'
import struct, sys, zlib
def png(path, w, h, rgb):
    raw = b"".join(b"\x00" + b"".join(bytes(rgb(x, y)) for x in range(w)) for y in range(h))
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(sys.argv[1] + "/sky.png", 32, 32, lambda x, y: (90, 140, 230))
png(sys.argv[1] + "/big.png", 64, 48, lambda x, y: (x * 4 % 256, y * 5 % 256, 60))
PYEOF
"$NF" predict configs/smoke.yaml --checkpoint "$OUT/final" --topk 3 "$TMP/sky.png" "$TMP/big.png" >"$TMP/pred"
[ "$(grep -c '%' "$TMP/pred")" = 6 ] || fail "predict output: $(cat "$TMP/pred")"
grep -qE "airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck" "$TMP/pred" || fail "no class names in predict output"
expect_error 1 "cannot|decode|read" -- "$NF" predict configs/smoke.yaml --checkpoint "$OUT/final" "$TMP/nothing.png"

"$NF" summary configs/resnet20_cifar10.yaml >"$TMP/summary"
grep -q "total params 269722 " "$TMP/summary" || fail "ResNet-20 (option A) has 269,722 parameters: $(tail -1 "$TMP/summary")"
"$NF" summary configs/resnet20_cifar10.yaml --set model.shortcut=projection | grep -q "total params 272474 " \
  || fail "ResNet-20 with projection shortcuts has 272,474 parameters"
echo "train/eval/predict/summary: ok"
