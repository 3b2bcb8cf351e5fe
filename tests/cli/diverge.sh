# A NaN/Inf loss stops training with a clear message (exit 3) and leaves the last good
# checkpoint intact: epoch 2 of a resumed run diverges because the optimizer state it
# resumed from holds a NaN (what a diverging run leaves behind: the manifest is made to
# agree, as the run that wrote it would have written it).
# Also: a fresh run moves an earlier run in its out_dir aside instead of overwriting it.
source "$(dirname "$0")/common.bash"
need_sample
OUT="$TMP/run"
args=(--set trainer.out_dir="$OUT" --set trainer.max_steps=null)
"$NF" train configs/smoke.yaml "${args[@]}" --set trainer.epochs=1 >/dev/null 2>&1
cp -r "$OUT" "$TMP/first"
"$NF" train configs/smoke.yaml "${args[@]}" --set trainer.epochs=1 --set trainer.eval_every=0 >/dev/null 2>&1
diff -r -x .lock "$TMP/first" "$(ls -d "$OUT".prev-* | head -1)" >/dev/null || fail "the earlier run was not kept whole"
rm -rf "$OUT".prev-*
"$PY" - "$OUT/checkpoints/epoch_0001/trainer_state.safetensors" <<'PYEOF'
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
begin = json.loads(raw[8:8 + n])["momentum_buffer.fc.bias"]["data_offsets"][0] + 8 + n
raw[begin:begin + 4] = struct.pack("<f", float("nan"))
open(sys.argv[1], "wb").write(raw)
import hashlib, os
manifest = os.path.join(os.path.dirname(sys.argv[1]), "manifest.json")
m = json.load(open(manifest))
m["files"]["trainer_state.safetensors"] = {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
json.dump(m, open(manifest, "w"))
PYEOF
cp -r "$OUT/checkpoints/epoch_0001" "$TMP/saved"
expect_error 3 "loss is NaN at epoch 2, step 34; training stopped \(last good checkpoint: .*epoch_0001\)" -- \
  "$NF" train configs/smoke.yaml "${args[@]}" --set trainer.epochs=3 --resume auto
diff -r "$TMP/saved" "$OUT/checkpoints/epoch_0001" >/dev/null || fail "the last good checkpoint changed"
[ ! -e "$OUT/checkpoints/epoch_0002" ] || fail "a checkpoint was written after divergence"
"$NF" eval configs/smoke.yaml --checkpoint "$OUT/checkpoints/epoch_0001" --json >/dev/null || fail "checkpoint unusable"
echo "diverge: ok"
