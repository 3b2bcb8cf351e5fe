# A failing rank ends the whole run, never a hang (label mpi): mpirun exits non-zero
# within 30 s, and the message names the rank that failed.
#   - rank 1 reads a truncated data file (MPMD launch: rank 1 gets another data.root);
#   - rank 1 is killed (SIGKILL) in the middle of training;
#   - the ranks' weights drift apart (MPMD: rank 1 with another learning rate): the
#     replica check before the end-of-epoch evaluation stops the run, naming it;
#   - a command that runs in one process (export, summary, ...) started on 2 ranks is
#     refused (exit 2) before it writes anything.
source "$(dirname "$0")/common.bash"
source "$SRC/tests/faults/faults.bash"
source "$(dirname "$0")/dist_common.bash"
need_sample
make_slice "$TMP/good" 2000 200
make_slice "$TMP/bad" 2000 200
head -c 1000000 "$SAMPLE/data_batch_1.bin" >"$TMP/bad/data_batch_1.bin"  # not a whole number of records
base=(configs/smoke.yaml --set trainer.max_steps=null --set trainer.epochs=20 --set threads=1 --set data.workers=0)

# within_30s LOG -- command...: runs it, fails unless it exits non-zero within 30 s.
within_30s() {
  local log=$1; shift 2
  local t0=$SECONDS rc=0
  timeout 60 "$@" >"$log" 2>&1 || rc=$?
  local took=$((SECONDS - t0))
  [ "$rc" != 0 ] || { cat "$log"; fail "exited 0: $*"; }
  [ "$rc" != 124 ] || { cat "$log"; fail "hung (killed after 60 s)"; }
  [ "$took" -le 30 ] || { cat "$log"; fail "took $took s to end (> 30 s)"; }
  echo "exit $rc after $took s"
}

within_30s "$TMP/bad.log" -- "${MPIRUN[@]}" -np 1 \
  "$NF" train "${base[@]}" --set data.root="$TMP/good" --set trainer.out_dir="$TMP/bad_run" : \
  -np 1 "$NF" train "${base[@]}" --set data.root="$TMP/bad" --set trainer.out_dir="$TMP/bad_run"
grep -qE "normforge: rank 1: error: .*data_batch_1.bin" "$TMP/bad.log" || { cat "$TMP/bad.log"; fail "no error naming rank 1 and the file"; }

"${MPIRUN2[@]}" "$NF" train "${base[@]}" --set data.root="$TMP/good" --set trainer.out_dir="$TMP/kill_run" >"$TMP/kill.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "step 3/" "$TMP/kill.log" 2>/dev/null && break; sleep 0.1; done
victim=$(pgrep -P "$pid" -x normforge | tail -1 || true)  # the ranks are mpirun's children
[ -n "$victim" ] || fail "no rank running"
t0=$SECONDS
kill -KILL "$victim"
set +e
timeout 60 tail --pid="$pid" -f /dev/null
wait "$pid"
rc=$?
set -e
took=$((SECONDS - t0))
[ "$rc" != 0 ] || fail "mpirun exited 0 after a rank was killed"
[ "$took" -le 30 ] || fail "mpirun took $took s to end after a rank was killed"
pgrep -P "$pid" -x normforge >/dev/null && fail "a rank is still running after mpirun ended"
grep -qiE "signal 9|killed" "$TMP/kill.log" || { cat "$TMP/kill.log"; fail "mpirun does not name the killed rank"; }
echo "killed rank: mpirun exit $rc after $took s"

within_30s "$TMP/drift.log" -- "${MPIRUN[@]}" -np 1 "$NF" train "${base[@]}" --set data.root="$TMP/good" \
  --set trainer.max_steps=2 --set trainer.out_dir="$TMP/drift" : \
  -np 1 "$NF" train "${base[@]}" --set data.root="$TMP/good" --set trainer.max_steps=2 --set optimizer.lr=0.2 \
  --set trainer.out_dir="$TMP/drift"
grep -qE "normforge: rank [01]: error: the ranks' weights differ" "$TMP/drift.log" ||
  { cat "$TMP/drift.log"; fail "weights that drifted apart are not detected"; }

expect_error 2 "export runs in one process" -- mpirun2 "$NF" export configs/smoke.yaml --checkpoint "$TMP/x" \
  --format onnx -o "$TMP/x.onnx"
[ ! -e "$TMP/x.onnx" ] || fail "export on 2 ranks wrote a file"

echo "dist_failures: ok"
