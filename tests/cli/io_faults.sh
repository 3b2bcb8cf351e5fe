# A write error anywhere in a run's checkpointing loses nothing (issue 15): every write,
# fsync and rename a resumed run makes in its out_dir is failed in turn, with ENOSPC and
# with EIO, through the LD_PRELOAD shim tests/faults/io_fault_shim.c (no sampling: every
# call k = 1..count, both errnos). Each time:
#   - the run ends with exit 1 and one line "normforge: error: PATH: ... (ERRNO TEXT)"
#     naming a path in the out_dir;
#   - the checkpoint it resumed from is byte-for-byte untouched, no folder under a final
#     name (without ".tmp.") is incomplete, and `normforge verify OUT` reports every
#     folder ok (exit 0, none BAD);
#   - a clean `--resume auto` afterwards ends with final/ bitwise equal to an
#     uninterrupted run's.
# The run: a small listed CNN (with dropout) on a 256/64-image slice of the CIFAR-10
# sample, constant learning rate; run A trains 1 epoch (epoch_0001, best/, final/), the
# resumed run continues it to 2 epochs: it rewrites metrics.jsonl, appends a line, writes
# epoch_0002, best/ (when better) and final/ (both replaced by renameat2 RENAME_EXCHANGE):
# some 60 counted calls.
# Time: a normforge process takes ~0.7 s to start here, so the failing runs go two at a
# time (in two folders, each run's out_dir the relative path "out", so that all of them
# write the same bytes), and `normforge verify` and the clean resume run once per
# distinct state the failures leave (the out_dir's files and their bytes, the number of
# metrics lines and of leftover *.tmp.* folders): most failures leave byte-identical
# out_dirs, for which verify and the resume are deterministic. NF_IO_FAULTS_FULL=1 runs
# them after every failure (some 3 min); NF_FAULT_STRIDE=N fails only every N-th write
# call (slow builds); NF_FAULT_LANES (2) sets how many run at a time.
source "$(dirname "$0")/common.bash"
source "$SRC/tests/faults/faults.bash"
need_sample
need_shim
T0=$SECONDS

make_slice "$TMP/data" 256 64
recipe "$TMP/r.yaml" dropout=0.2 data.root="$TMP/data" data.batch_size=32 \
  data.train_transforms="[{random_crop: {size: 32, padding: 4}}, {hflip: {p: 0.5}}]" optimizer.momentum=0.9 \
  schedule.name=constant trainer.epochs=2 trainer.checkpoint_every=1 trainer.log_every=100 trainer.out_dir=-
train() { "$NF" train "$TMP/r.yaml" "$@"; }

train --set trainer.out_dir="$TMP/ref" >/dev/null 2>&1 || fail "the uninterrupted 2-epoch run failed"
train --set trainer.epochs=1 --set trainer.out_dir="$TMP/A" >/dev/null 2>&1 || fail "run A (1 epoch) failed"
[ -f "$TMP/A/checkpoints/epoch_0001/manifest.json" ] || fail "run A wrote no epoch_0001 with a manifest"
"$NF" verify "$TMP/A" >"$TMP/log" 2>&1 || { cat "$TMP/log" >&2; fail "run A does not verify"; }

# Count mode: the shim counts the calls of the resumed run without failing any; the
# shim must change nothing (final/ as the uninterrupted run's).
mkdir -p "$TMP/count.d"
cp -a "$TMP/A" "$TMP/count.d/out"
(cd "$TMP/count.d" && with_shim NF_FAULT_PATH=out NF_FAULT_COUNT_FILE="$TMP/count" NF_FAULT_LOG="$TMP/calls" -- \
  "$NF" train "$TMP/r.yaml" --set trainer.out_dir=out --resume auto) >"$TMP/log" 2>&1 ||
  { cat "$TMP/log" >&2; fail "the resumed run under the shim (count mode) failed"; }
same_final "$TMP/ref" "$TMP/count.d/out" || fail "resumed 1 -> 2 epochs (under the shim, count mode) differs from the uninterrupted run"
N=$(cat "$TMP/count")
[ "$N" -ge 20 ] || fail "only $N counted calls: the shim does not see normforge's writes (is it preloaded?)"
grep -q ' rename .*final\.tmp\.[0-9]* -> out/final via=renameat2' "$TMP/calls" ||
  fail "final/ was not replaced with renameat2 (RENAME_EXCHANGE): $(grep final "$TMP/calls")"
for kind in write fsync rename; do
  eval "n_$kind=\$(grep -c \" $kind \" \"\$TMP/calls\" || true)"
done
echo "io_faults: the resumed run makes $N counted calls in its out_dir ($n_write write, $n_fsync fsync, $n_rename rename)"

# The state a failure left in out_dir: every file under a final name with its bytes, the
# number of metrics.jsonl lines (their seconds differ) and of leftover *.tmp.* entries.
fingerprint() {
  (cd "$1" && {
    find . -name '*.tmp.*' -prune -o -type f ! -name .lock ! -name metrics.jsonl -print0 | sort -z | xargs -0 -r sha256sum
    [ ! -f metrics.jsonl ] || wc -l <metrics.jsonl
    find . -name '*.tmp.*' | wc -l
  }) | sha256sum | cut -c1-16
}

# One case, in lane folder L (cwd; out_dir "out"): the resume with call k failing with
# errno err, in a fresh copy of run A. Prints "ok" when every check passed.
run_case() {
  local L=$1 k=$2 err=$3 text call rc line bad vrc fp
  case $err in ENOSPC) text="No space left on device" ;; EIO) text="Input/output error" ;; esac
  call=$(sed -n "${k}p" "$TMP/calls")
  local what="call $k ($call) failed with $err"
  cd "$L"
  rm -rf out
  cp -a "$TMP/A" out
  set +e
  with_shim NF_FAULT_PATH=out NF_FAULT_AT="$k" NF_FAULT_ERRNO="$err" -- \
    "$NF" train "$TMP/r.yaml" --set trainer.out_dir=out --resume auto >run.out 2>run.err
  rc=$?
  set -e
  [ "$rc" = 1 ] || { cat run.err >&2; fail "$what: exit $rc, expected 1"; }
  [ "$(grep -c 'error' run.err)" = 1 ] || { cat run.err >&2; fail "$what: not one error line"; }
  line=$(grep 'error' run.err)
  grep -qE "^normforge: error: out[/:].*\($text\)" <<<"$line" ||
    fail "$what: the error line does not name a path in the out_dir and '$text': $line"
  for f in model.safetensors trainer_state.safetensors config.yaml manifest.json; do
    cmp -s "$TMP/A/checkpoints/epoch_0001/$f" "out/checkpoints/epoch_0001/$f" ||
      fail "$what: the checkpoint resumed from changed (epoch_0001/$f)"
  done
  bad=$(complete_folders out) || fail "$what: incomplete folder under a final name: $bad"
  fp=$(fingerprint out)
  echo "$k $err $fp" >>"$TMP/states.log"
  if [ "${NF_IO_FAULTS_FULL:-0}" != 1 ] && ! mkdir "$TMP/states/$fp" 2>/dev/null; then
    echo ok  # a state already verified and resumed from (or being so, in the other lane)
    return
  fi
  set +e
  "$NF" verify out >verify.out 2>&1
  vrc=$?
  set -e
  [ "$vrc" = 0 ] || { cat verify.out >&2; fail "$what: normforge verify exits $vrc"; }
  "$NF" train "$TMP/r.yaml" --set trainer.out_dir=out --resume auto >resume.log 2>&1 ||
    { cat resume.log >&2; fail "$what: the clean --resume auto afterwards failed"; }
  same_final "$TMP/ref" out || fail "$what: after a clean --resume auto, final/ differs from the uninterrupted run"
  echo "$fp $k $err $(grep -o 'resumed from [^ ]*' resume.log | head -1)" >>"$TMP/resumed.log"
  echo ok
}

stride=${NF_FAULT_STRIDE:-1}
lanes=${NF_FAULT_LANES:-2}
mkdir -p "$TMP/states"
ks=()
declare -A tried
for k in $(seq 1 "$N"); do
  kind=$(sed -n "${k}p" "$TMP/calls" | awk '{print $2}')
  if [ "$kind" = write ] && [ "$stride" -gt 1 ] && [ $((k % stride)) != 1 ]; then continue; fi
  ks+=("$k")
  tried[$kind]=$((${tried[$kind]:-0} + 1))
done
# Lane i takes every lanes-th k, ENOSPC then EIO.
for i in $(seq 0 $((lanes - 1))); do
  mkdir -p "$TMP/lane$i"
  (
    for j in $(seq "$i" "$lanes" $((${#ks[@]} - 1))); do
      for err in ENOSPC EIO; do
        ( run_case "$TMP/lane$i" "${ks[$j]}" "$err" ) >"$TMP/result.${ks[$j]}.$err" 2>&1 || true
      done
    done
  ) &
done
wait
cases=0
for k in "${ks[@]}"; do
  for err in ENOSPC EIO; do
    [ "$(tail -1 "$TMP/result.$k.$err")" = ok ] || { cat "$TMP/result.$k.$err" >&2; fail "fault case k=$k $err failed (above)"; }
    cases=$((cases + 1))
  done
done
states=$(awk '{print $3}' "$TMP/states.log" | sort -u | wc -l)
echo "io_faults: $cases cases passed: ${#ks[@]} calls (write ${tried[write]:-0}, fsync ${tried[fsync]:-0}, rename ${tried[rename]:-0}) x ENOSPC, EIO;" \
  "they left $states distinct states, each verified and resumed bitwise ($(wc -l <"$TMP/resumed.log") clean resumes); in $((SECONDS - T0)) s"
# Which failures left which state, and where the clean resume of that state started.
sort -k1,1n "$TMP/states.log" | awk '{if (!($3 in first)) {first[$3] = $1; order[++n] = $3} last[$3] = $1; cnt[$3]++}
  END {for (i = 1; i <= n; i++) printf "  state %s: %d failures, calls %d..%d\n", order[i], cnt[order[i]], first[order[i]], last[order[i]]}'
sed 's|resumed from .*/out/|resumed from out/|' "$TMP/resumed.log" | awk '{printf "  state %s first left by call %s (%s): clean resume %s %s %s\n", $1, $2, $3, $4, $5, $6}'
echo "io_faults: ok"
