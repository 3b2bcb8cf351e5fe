# A NaN/Inf loss stops training with a clear message (exit 3) and leaves the last good
# checkpoint intact.
source "$(dirname "$0")/common.sh"
need_sample
OUT="$TMP/run"
"$NF" train configs/smoke.yaml --set trainer.out_dir="$OUT" --set trainer.max_steps=null --set trainer.epochs=1 >/dev/null 2>&1
cp -r "$OUT/checkpoints/epoch_0001" "$TMP/saved"
expect_error 3 "loss is (NaN|infinite) at epoch 2.*last good checkpoint: .*epoch_0001" -- \
  "$NF" train configs/smoke.yaml --set trainer.out_dir="$OUT" --set trainer.max_steps=null --set trainer.epochs=3 \
  --set optimizer.lr=1000 --set schedule.name=constant --resume auto
diff -r "$TMP/saved" "$OUT/checkpoints/epoch_0001" >/dev/null || fail "the last good checkpoint changed"
[ ! -d "$OUT/checkpoints/epoch_0002" ] || fail "a checkpoint was written after divergence"
"$NF" eval configs/smoke.yaml --checkpoint "$OUT/checkpoints/epoch_0001" --json >/dev/null || fail "last good checkpoint unusable"
echo "diverge: ok"
