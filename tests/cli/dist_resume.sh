# Resuming a data-parallel run (label mpi). 2 ranks x batch 32, shuffled, augmented,
# dropout (the RNG state), 2 loader workers, on a 1,200-image slice, 3 epochs:
#   - "killed" after epoch 1 (later checkpoints removed, as tests/cli/resume.sh does) and
#     resumed with --resume auto on 2 ranks: final/ is bitwise the uninterrupted run's;
#   - stopped by SIGTERM to every rank mid-epoch (what a scheduler's preemption does):
#     the ranks agree on the step, rank 0 writes one step checkpoint, every rank exits
#     143; resumed with --resume auto: final/ is bitwise the uninterrupted run's;
#   - resuming with another number of ranks is a clear one-line error (exit 1).
source "$(dirname "$0")/common.bash"
source "$SRC/tests/faults/faults.bash"
source "$(dirname "$0")/dist_common.bash"
need_sample
make_slice "$TMP/data" 1200 200
args=(configs/smoke.yaml --set trainer.max_steps=null --set trainer.epochs=3 --set model.dropout=0.3
  --set data.workers=2 --set threads=1 --set trainer.log_every=1 --set data.root="$TMP/data" --set data.batch_size=32)
mpirun2 "$NF" train "${args[@]}" --set trainer.out_dir="$TMP/full" >"$TMP/full.log" 2>&1 ||
  { cat "$TMP/full.log"; fail "the uninterrupted 2-rank run"; }
ls "$TMP/full/checkpoints" | grep -q epoch_0003 || fail "no epoch_0003 checkpoint"

cp -r "$TMP/full" "$TMP/cut"
rm -rf "$TMP/cut/checkpoints/epoch_0002" "$TMP/cut/checkpoints/epoch_0003" "$TMP/cut/checkpoints/best" "$TMP/cut/final"
mpirun2 "$NF" train "${args[@]}" --set trainer.out_dir="$TMP/cut" --resume auto >"$TMP/cut.log" 2>&1 ||
  { cat "$TMP/cut.log"; fail "resume on 2 ranks"; }
grep -q "resumed from .*epoch_0001 (epoch 1" "$TMP/cut.log" || { cat "$TMP/cut.log"; fail "did not resume from epoch_0001"; }
same_final "$TMP/full" "$TMP/cut" || fail "the resumed 2-rank run's final/ differs from the uninterrupted one"
[ "$(grep -c "resumed from" "$TMP/cut.log")" = 1 ] || fail "only rank 0 logs"

# A real stop: SIGTERM to both ranks (not to mpirun, which ends its job at once).
"${MPIRUN2[@]}" "$NF" train "${args[@]}" --set trainer.out_dir="$TMP/stop" >"$TMP/stop.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "epoch 2/3 step 3/" "$TMP/stop.log" 2>/dev/null && break; sleep 0.1; done
pkill -TERM -P "$pid" -x normforge || fail "no rank to signal"  # the ranks are mpirun's children
set +e
wait "$pid"
rc=$?
set -e
grep -q "rank 0: SIGTERM: stopped at epoch 2, step .*checkpoint .*step_" "$TMP/stop.log" ||
  { cat "$TMP/stop.log"; fail "no stop message naming the step checkpoint (mpirun exit $rc)"; }
[ "$rc" != 0 ] || fail "a stopped run must not exit 0"
ls "$TMP/stop/checkpoints" | grep -q "^step_" || fail "no step checkpoint after SIGTERM"
mpirun2 "$NF" train "${args[@]}" --set trainer.out_dir="$TMP/stop" --resume auto >"$TMP/stop2.log" 2>&1 ||
  { cat "$TMP/stop2.log"; fail "resume after SIGTERM"; }
grep -q "resumed from .*step_" "$TMP/stop2.log" || { cat "$TMP/stop2.log"; fail "did not resume from the step checkpoint"; }
same_final "$TMP/full" "$TMP/stop" || fail "the run stopped by SIGTERM and resumed differs from the uninterrupted one"

expect_error 1 "written by a run of 2 rank\(s\); this run has 1" -- \
  "$NF" train "${args[@]}" --set trainer.out_dir="$TMP/cut" --resume auto
echo "dist_resume: ok"
