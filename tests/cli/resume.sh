# An interrupted run resumed with --resume auto ends with the same weights, bitwise,
# as an uninterrupted one (CPU, fixed thread count; dropout exercises the RNG state).
source "$(dirname "$0")/common.bash"
need_sample
args=(--set trainer.max_steps=null --set trainer.epochs=3 --set model.dropout=0.3 --set data.workers=2)
"$NF" train configs/smoke.yaml "${args[@]}" --set trainer.out_dir="$TMP/full" 2>/dev/null >/dev/null
ls "$TMP/full/checkpoints" | grep -q epoch_0003 || fail "no epoch_0003 checkpoint"

# The same run "interrupted" after epoch 1: later checkpoints never written, one
# half-written checkpoint folder left behind.
cp -r "$TMP/full" "$TMP/cut"
rm -rf "$TMP/cut/checkpoints/epoch_0002" "$TMP/cut/checkpoints/epoch_0003" "$TMP/cut/checkpoints/best" "$TMP/cut/final"
mkdir -p "$TMP/cut/checkpoints/epoch_0002.tmp.123" "$TMP/cut/checkpoints/epoch_0004"
"$NF" train configs/smoke.yaml "${args[@]}" --set trainer.out_dir="$TMP/cut" --resume auto >"$TMP/log" 2>&1
grep -q "resumed from .*epoch_0001 (epoch 1" "$TMP/log" || fail "did not resume from epoch_0001: $(cat "$TMP/log")"
cmp -s "$TMP/full/final/model.safetensors" "$TMP/cut/final/model.safetensors" || fail "resumed weights differ from the uninterrupted run"
cmp -s "$TMP/full/final/trainer_state.safetensors" "$TMP/cut/final/trainer_state.safetensors" || fail "resumed optimizer state differs"
[ "$(wc -l <"$TMP/cut/metrics.jsonl")" = 3 ] || fail "metrics.jsonl should hold 3 epochs after the resume"

# --resume auto with nothing to resume starts fresh; --resume of a broken folder fails cleanly.
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/fresh" --resume auto >"$TMP/log" 2>&1
grep -q "starting fresh" "$TMP/log" || fail "--resume auto on an empty out_dir"
expect_error 1 "incomplete checkpoint" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/x" --resume "$TMP/cut/checkpoints/epoch_0004"
echo "resume: ok"
