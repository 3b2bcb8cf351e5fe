# Crashes lose nothing (issue 15), CI-sized (tools/scripts/crash_test.sh is the full version):
# ResNet-8 with dropout on a 640/200-image slice of the CIFAR-10 sample, 3 epochs of 10
# steps, a step checkpoint every 5 steps, 2 loader workers, 2 threads. The run is killed
# at different moments (SIGKILL just after a checkpoint appeared, while one is being
# written, at exact calls of a checkpoint write or of keep_last's pruning through the
# fault shim, during a step), stopped by SIGTERM and by SIGINT (exit 143/130 and a step
# checkpoint named in the message), then `--resume auto` until done: final/ must be
# bitwise the uninterrupted run's every time, and no folder under a final name
# incomplete after the interruption.
# A torn last line of metrics.jsonl is dropped on resume. Last, a run whose last step is
# also a step checkpoint (max_steps 10, every 5), killed before final/ is written: the
# resume must still do the epoch's end and write the uninterrupted run's final/.
source "$(dirname "$0")/common.bash"
source "$SRC/tests/faults/faults.bash"
need_sample
need_shim
T0=$SECONDS

make_slice "$TMP/data" 640 200
CRASH_CFG=configs/smoke.yaml
CRASH_ARGS=(--set trainer.max_steps=null --set trainer.epochs=3 --set trainer.checkpoint_every_steps=5
  --set model.dropout=0.2 --set data.workers=2 --set threads=2 --set trainer.log_every=1 --set data.root="$TMP/data")
CRASH_REF="$TMP/ref"
CRASH_CALLS="$TMP/ref.calls"
CRASH_FAULT_CALLS=write,fsync,rename,unlink  # unlink: the deletions of keep_last's pruning
# The uninterrupted run, under the shim in count mode: the numbered list of its calls
# tells the shim trials where to crash.
t_ref=${EPOCHREALTIME/./}
with_shim NF_FAULT_PATH="$CRASH_REF" NF_FAULT_CALLS="$CRASH_FAULT_CALLS" NF_FAULT_LOG="$CRASH_CALLS" -- \
  "$NF" train "$CRASH_CFG" "${CRASH_ARGS[@]}" --set trainer.out_dir="$CRASH_REF" >"$TMP/ref.log" 2>&1 ||
  { cat "$TMP/ref.log" >&2; fail "the uninterrupted run failed"; }
t_ref=$(( (${EPOCHREALTIME/./} - t_ref) / 1000 ))  # ms
for d in step_0000030 epoch_0003; do
  [ -f "$CRASH_REF/checkpoints/$d/manifest.json" ] || fail "the uninterrupted run wrote no $d: $(ls "$CRASH_REF/checkpoints")"
done
[ "$(ls "$CRASH_REF/checkpoints" | grep -c '^step_')" = 3 ] ||
  fail "keep_last 3 should leave 3 step checkpoints: $(ls "$CRASH_REF/checkpoints")"
n_epoch2=$(call_number "$CRASH_CALLS" ' rename .*/checkpoints/epoch_0002\.tmp\.[0-9]+ -> .*/epoch_0002 via=')
n_final=$(call_number "$CRASH_CALLS" ' fsync .*/final\.tmp\.[0-9]+/model\.safetensors\.tmp\.')
n_prune=$(call_number "$CRASH_CALLS" ' unlink .*/checkpoints/step_0000005\.tmp\.[0-9]*/')  # renamed off its name, then deleted
[ -n "$n_epoch2" ] && [ -n "$n_final" ] && [ -n "$n_prune" ] ||
  fail "the shim log lacks the folder rename of epoch_0002, an fsync in final/ or the pruning of step_0000005: $CRASH_CALLS"

passed=0
trial() {  # trial NAME SIGNAL TRIGGER ARG
  local name=$1
  shift
  if crash_trial "$TMP/$name" "$@"; then
    passed=$((passed + 1))
    printf '  %-10s %-5s %-55s resumed from %-28s bitwise equal: %s%s\n' "$name" "$1" "$TR_WHEN" "$TR_FROM" "$TR_EQUAL" \
      "$([ "$TR_LEFT" = 0 ] || echo "  ($TR_LEFT *.tmp.* left behind)")"
  else
    fail "trial $name (SIG$1, $TR_WHEN): $TR_NOTE (exit $TR_RC, resumed from ${TR_FROM:-?}; log $(tail -5 "$TMP/$name.log"))"
  fi
  rm -rf "$TMP/$name" "$TMP/$name".prev-*
}
echo "crash_resume: uninterrupted run in $t_ref ms; trials:"
trial after5 KILL glob "checkpoints/step_0000005"
trial midwrite KILL midwrite "checkpoints/step_0000010"
trial epoch2 KILL shim "$n_epoch2"
trial final KILL shim "$n_final"
trial prune KILL shim $((n_prune + 1))  # step_0000005 pruned (keep_last 3): renamed aside, one file of it deleted
trial step KILL step "13 40"
trial term TERM glob "checkpoints/step_0000015"
trial int INT glob "checkpoints/epoch_0002"
[ "$passed" = 8 ] || fail "only $passed trials passed"

# A crash while metrics.jsonl's last line was written (a torn line, no newline): the
# resume drops it with a warning and writes the epoch's line again.
cp -a "$CRASH_REF" "$TMP/torn"
rm -rf "$TMP/torn/final" "$TMP/torn/checkpoints/epoch_0003" "$TMP/torn/checkpoints"/step_00000{25,30}
head -2 "$CRASH_REF/metrics.jsonl" >"$TMP/torn/metrics.jsonl"
sed -n 3p "$CRASH_REF/metrics.jsonl" | head -c 40 >>"$TMP/torn/metrics.jsonl"
"$NF" train "$CRASH_CFG" "${CRASH_ARGS[@]}" --set trainer.out_dir="$TMP/torn" --resume auto >"$TMP/torn.log" 2>&1 ||
  { cat "$TMP/torn.log" >&2; fail "--resume auto with a torn metrics.jsonl line"; }
grep -q "dropped a torn line" "$TMP/torn.log" || fail "no warning about the torn metrics.jsonl line: $(cat "$TMP/torn.log")"
same_final "$CRASH_REF" "$TMP/torn" || fail "resumed past a torn metrics line: final/ differs"
"$PY" -c 'import json, sys; l = open(sys.argv[1]).read().split("\n"); assert l[-1] == "" and [json.loads(x)["epoch"] for x in l[:-1]] == [1, 2, 3], l' \
  "$TMP/torn/metrics.jsonl" || fail "metrics.jsonl after the torn line: $(cat "$TMP/torn/metrics.jsonl")"
echo "  torn       metrics.jsonl's last line torn: dropped with a warning, rewritten; final/ bitwise equal"

# The last step is also a step checkpoint (max_steps 10 = 2 x checkpoint_every_steps):
# killed before final/ is written, the resume must still do the epoch's end (evaluation,
# metrics, best/) and write the same final/.
CRASH_ARGS+=(--set trainer.max_steps=10)
CRASH_REF="$TMP/ref10"
CRASH_CALLS="$TMP/ref10.calls"
with_shim NF_FAULT_PATH="$CRASH_REF" NF_FAULT_CALLS="$CRASH_FAULT_CALLS" NF_FAULT_LOG="$CRASH_CALLS" -- \
  "$NF" train "$CRASH_CFG" "${CRASH_ARGS[@]}" --set trainer.out_dir="$CRASH_REF" >"$TMP/ref.log" 2>&1 ||
  { cat "$TMP/ref.log" >&2; fail "the uninterrupted max_steps=10 run failed"; }
n_after=$(call_number "$CRASH_CALLS" ' rename .*/checkpoints/step_0000010\.tmp\.[0-9]+ -> .*/step_0000010 via=')
[ -n "$n_after" ] || fail "max_steps=10: no step_0000010 written"
trial laststep KILL shim $((n_after + 2))
echo "crash_resume: $((passed + 1)) trials passed (6 SIGKILL, SIGTERM, SIGINT, SIGKILL after the last step's checkpoint) and a torn metrics line, in $((SECONDS - T0)) s"
echo "crash_resume: ok"
