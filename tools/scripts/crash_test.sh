#!/usr/bin/env bash
# The full crash test of issue 15 ("Nothing lost, whatever happens"), run by hand:
#   tools/scripts/crash_test.sh [build/normforge]
# ResNet-8 with dropout on the CIFAR-10 sample (2,000 training images), 3 epochs, a step
# checkpoint every 5 steps, 2 loader workers, 2 threads. One uninterrupted run, then:
#   - 20 SIGKILL trials at different moments: 8 during steps spread over the run, 4 just after
#     a checkpoint appeared, 4 while a checkpoint folder is being written (polled), 4 at
#     exact calls of a checkpoint write (the process kills itself through the fault shim,
#     tests/faults/io_fault_shim.c: in a step checkpoint's model file, at an epoch
#     checkpoint's folder rename, at best/'s replacement, inside final/), and one in the
#     middle of keep_last's pruning of an old step checkpoint (21 in all);
#   - 20 SIGTERM trials during steps spread over the run: each must exit 143 with a step
#     checkpoint named in its message (or finish, when the signal came after the last step);
#   - one SIGINT (exit 130) and one double SIGTERM (the second exits at once);
# each followed by `--resume auto` until the run is done, whose final/model.safetensors
# and final/trainer_state.safetensors must be bitwise the uninterrupted run's.
# Prints a table (trial, signal, when, resumed from, bitwise equal, *.tmp.* entries left
# behind in the out_dir) and exits 1 when any trial failed. KILL_TRIALS / TERM_TRIALS
# (21, 20) shorten it; ONLY="N N..." runs only those trial numbers; KEEP=1 keeps the
# folders.
# Takes about (2 + 42) x one run: some 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
NF_ARG=${1:-build/normforge}
SRC_ARG=$(pwd)
source tests/cli/common.bash "$NF_ARG" "$SRC_ARG"
source "$SRC/tests/faults/faults.bash"
need_sample
need_shim
if [ "${KEEP:-0}" = 1 ]; then trap - EXIT; echo "keeping $TMP"; fi
KILL_TRIALS=${KILL_TRIALS:-21}
TERM_TRIALS=${TERM_TRIALS:-20}
T0=$SECONDS

CRASH_CFG=configs/smoke.yaml
CRASH_ARGS=(--set trainer.max_steps=null --set trainer.epochs=3 --set trainer.checkpoint_every_steps=5
  --set model.dropout=0.2 --set data.workers=2 --set threads=2 --set trainer.log_every=1)
CRASH_REF="$TMP/ref"
CRASH_CALLS="$TMP/ref.calls"
CRASH_FAULT_CALLS=write,fsync,rename,unlink  # unlink: the deletions of keep_last's pruning
echo "uninterrupted run (ResNet-8, dropout 0.2, CIFAR-10 sample, 3 epochs, step checkpoint every 5 steps)..."
t_ref=${EPOCHREALTIME/./}
with_shim NF_FAULT_PATH="$CRASH_REF" NF_FAULT_CALLS="$CRASH_FAULT_CALLS" NF_FAULT_LOG="$CRASH_CALLS" -- \
  "$NF" train "$CRASH_CFG" "${CRASH_ARGS[@]}" --set trainer.out_dir="$CRASH_REF" >"$TMP/ref.log" 2>&1 ||
  { cat "$TMP/ref.log" >&2; fail "the uninterrupted run failed"; }
t_ref=$(( (${EPOCHREALTIME/./} - t_ref) / 1000 ))  # ms
# A second uninterrupted run, without the shim: the reference must be reproducible.
"$NF" train "$CRASH_CFG" "${CRASH_ARGS[@]}" --set trainer.out_dir="$TMP/ref2" >/dev/null 2>&1 ||
  fail "the second uninterrupted run failed"
same_final "$CRASH_REF" "$TMP/ref2" || fail "two uninterrupted runs differ: nothing to compare against"
rm -rf "$TMP/ref2"
steps=$(grep -o '"step": *[0-9]*' "$CRASH_REF/metrics.jsonl" | tail -1 | grep -o '[0-9]*$')
echo "  $t_ref ms, $steps steps, $(wc -l <"$CRASH_CALLS") writes/fsyncs/renames/deletions in its out_dir"

calls() { call_number "$CRASH_CALLS" "$@"; }

plan=()  # "SIGNAL TRIGGER ARG" per trial
# 8 moments spread over the run's steps (not its seconds: other load on the machine
# would shift those), each some milliseconds into the next step.
for i in 0 1 2 3 4 5 6 7; do
  plan+=("KILL step $((steps * (2 * i + 1) / 16)) $((i * 25))")
done
plan+=("KILL glob checkpoints/step_0000005" "KILL glob checkpoints/epoch_0001" "KILL glob checkpoints/step_0000050"
  "KILL glob checkpoints/epoch_0002")
plan+=("KILL midwrite checkpoints/step_0000010" "KILL midwrite checkpoints/step_0000040"
  "KILL midwrite checkpoints/epoch_0002" "KILL midwrite checkpoints/step_0000085")
n1=$(calls ' write .*/checkpoints/step_0000020\.tmp\.[0-9]+/model\.safetensors\.tmp\.')
n2=$(calls ' rename .*/checkpoints/epoch_0001\.tmp\.[0-9]+ -> .*/epoch_0001 via=')
n3=$(calls ' rename .*/checkpoints/best\.tmp\.[0-9]+ -> .*/best via=' ' -> .*/epoch_0002 via=')  # best/ replaced
[ -n "$n3" ] || n3=$(calls ' rename .*/checkpoints/best\.tmp\.[0-9]+ -> .*/best via=')
n4=$(calls ' rename .*/final\.tmp\.[0-9]+/manifest\.json\.tmp\.')
n5=$(calls ' unlink .*/checkpoints/step_0000030\.tmp\.[0-9]*/')  # pruned by keep_last: renamed aside, one file of it deleted
[ -z "$n5" ] || n5=$((n5 + 1))
for n in "$n1" "$n2" "$n3" "$n4" "$n5"; do
  [ -n "$n" ] || fail "a planned crash point is not in the shim's log $CRASH_CALLS"
  plan+=("KILL shim $n")
done
plan=("${plan[@]:0:$KILL_TRIALS}")
for i in $(seq 0 $((TERM_TRIALS - 1))); do
  plan+=("TERM step $((2 + i * (steps - 6) / TERM_TRIALS)) $((i % 5 * 30))")
done
plan+=("INT step $((steps / 2)) 10" "TERM2 step $((steps * 2 / 5)) 20")

rows=()
failed=0
i=0
for p in "${plan[@]}"; do
  i=$((i + 1))
  read -r sig trig arg <<<"$p"  # arg: the rest ("S MS" for a step trigger)
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $i "* ]]; then continue; fi
  t=$SECONDS
  if crash_trial "$TMP/t$i" "$sig" "$trig" "$arg"; then ok=yes; else ok=no; failed=$((failed + 1)); fi
  label=SIG$sig
  [ "$sig" = TERM2 ] && label="SIGTERMx2"
  row=$(printf '%5s  %-9s %-58s %-30s %-5s %s' "$i" "$label" "$TR_WHEN" "${TR_FROM:-?}" "$TR_EQUAL" "$TR_LEFT")
  [ "$ok" = yes ] || row="$row   FAILED: $TR_NOTE (exit $TR_RC)"
  rows+=("$row")
  echo "$row  [$((SECONDS - t)) s]"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP/t$i" "$TMP/t$i".prev-*
done

echo
printf '%5s  %-9s %-58s %-30s %-5s %s\n' trial signal when "resumed from" equal "*.tmp.* left"
for r in "${rows[@]}"; do echo "$r"; done
echo
ran=${#rows[@]}
kinds=$(for r in "${rows[@]}"; do awk '{print $2}' <<<"$r"; done | sort | uniq -c | awk '{printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2}')
echo "$((ran - failed)) of $ran trials passed ($kinds) in $((SECONDS - T0)) s"
[ "$failed" = 0 ]
