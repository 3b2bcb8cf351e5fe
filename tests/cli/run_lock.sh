# One train per out_dir (issue 15): a running `normforge train` holds OUT/.lock with
# flock(2); a second train into the same out_dir (fresh or --resume auto) exits 1 at once,
# naming the first's process id, and touches nothing there; read-only commands (verify)
# still work meanwhile. Once the first is SIGKILLed the lock file stays behind (holding a
# dead pid) but the kernel dropped the lock: a new train, --resume auto or fresh, works.
source "$(dirname "$0")/common.bash"
source "$SRC/tests/faults/faults.bash"
need_sample
T0=$SECONDS

X="$TMP/x"
args=(--set trainer.max_steps=null --set trainer.epochs=20 --set trainer.checkpoint_every_steps=4 --set threads=1)
"$NF" train configs/smoke.yaml "${args[@]}" --set trainer.out_dir="$X" >"$TMP/first.log" 2>&1 &
pid=$!
# The lock is taken (and its holder's pid written) before anything else in the folder.
for _ in $(seq 600); do
  [ "$(cat "$X/.lock" 2>/dev/null)" = "$pid" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$TMP/first.log" >&2; fail "the first train ended early"; }
  sleep 0.1
done
[ "$(cat "$X/.lock" 2>/dev/null)" = "$pid" ] || fail "$X/.lock does not hold the first train's pid $pid"
wait_for_glob "$pid" "$X/checkpoints/step_*" 120 0.1 || { cat "$TMP/first.log" >&2; fail "no step checkpoint from the first train"; }

for mode in fresh auto; do
  extra=()
  [ "$mode" = auto ] && extra=(--resume auto)
  # (metrics.jsonl is left out: the running first train creates it when its first epoch ends)
  before=$(cd "$X" && ls -A | grep -vx metrics.jsonl | sort | tr '\n' ' ')
  start=${EPOCHREALTIME/./}
  expect_error 1 "another normforge train is writing here \(process $pid\)" -- \
    "$NF" train configs/smoke.yaml "${args[@]}" --set trainer.out_dir="$X" "${extra[@]}"
  ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
  grep -q "$X" "$TMP/err" || fail "the refusal does not name the out_dir: $(cat "$TMP/err")"
  [ "$ms" -lt 10000 ] || fail "the second train ($mode) took $ms ms to give up: not at once"
  echo "run_lock: a second train ($mode) refused in $ms ms: $(grep -o 'another normforge.*' "$TMP/err" | cut -c1-80)..."
  kill -0 "$pid" 2>/dev/null || fail "the first train died when a second one ($mode) started"
  compgen -G "$X.prev-*" >/dev/null && fail "the refused train ($mode) moved the running one's folder aside"
  after=$(cd "$X" && ls -A | grep -vx metrics.jsonl | sort | tr '\n' ' ')
  [ "$before" = "$after" ] || fail "the refused train ($mode) changed the out_dir: '$before' -> '$after'"
done
# read-only commands are not locked out
set +e
"$NF" verify "$X" >"$TMP/v" 2>&1
vrc=$?
set -e
[ "$vrc" = 0 ] || { cat "$TMP/v" >&2; fail "verify of a folder being trained into: exit $vrc"; }

kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
[ -f "$X/.lock" ] || fail "the lock file went away with the killed process (it is expected to stay, stale)"
[ "$(cat "$X/.lock")" = "$pid" ] || fail "the stale lock file does not hold the dead pid"

# A stale lock does not block: --resume auto continues the killed run (a short one now).
"$NF" train configs/smoke.yaml "${args[@]}" --set trainer.max_steps=14 --set trainer.out_dir="$X" --resume auto \
  >"$TMP/log" 2>&1 || { cat "$TMP/log" >&2; fail "--resume auto after the first train was SIGKILLed"; }
grep -qE "resumed from $X/checkpoints/(step|epoch)_" "$TMP/log" || fail "did not resume from the killed run's checkpoint: $(cat "$TMP/log")"
[ -f "$X/final/model.safetensors" ] || fail "the resumed run wrote no final/"
# and a fresh run into the same folder works too (the earlier run is moved aside)
"$NF" train configs/smoke.yaml --set trainer.out_dir="$X" >"$TMP/log" 2>&1 ||
  { cat "$TMP/log" >&2; fail "a fresh train into the folder after the resume"; }
compgen -G "$X.prev-*" >/dev/null || fail "the fresh run did not move the earlier one aside"
[ -f "$X/final/model.safetensors" ] || fail "the fresh run wrote no final/"
# two trains started together into a new folder: exactly one of them gets it
Y="$TMP/y"
"$NF" train configs/smoke.yaml --set trainer.out_dir="$Y" >"$TMP/y1.log" 2>&1 &
p1=$!
"$NF" train configs/smoke.yaml --set trainer.out_dir="$Y" >"$TMP/y2.log" 2>&1 &
p2=$!
set +e
wait "$p1"; r1=$?
wait "$p2"; r2=$?
set -e
ok=$(( (r1 == 0) + (r2 == 0) ))
if [ "$ok" = 1 ]; then
  grep -q "another normforge train is writing here" "$TMP/y1.log" "$TMP/y2.log" ||
    fail "one of two simultaneous trains failed without the lock message: $(cat "$TMP/y1.log" "$TMP/y2.log")"
elif [ "$ok" = 2 ]; then
  : # the first had finished before the second took the lock (a fast machine): both fine
else
  cat "$TMP/y1.log" "$TMP/y2.log" >&2
  fail "two simultaneous trains: exits $r1 and $r2"
fi
echo "run_lock: ok ($((SECONDS - T0)) s)"
