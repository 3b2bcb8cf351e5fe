# Shared by the fault and crash tests (tests/cli/io_faults.sh, crash_resume.sh,
# verify_checkpoints.sh, run_lock.sh, tools/scripts/crash_test.sh): `source` it after
# tests/cli/common.bash (which sets NF, SRC, SAMPLE, TMP, fail, need_sample).

# The LD_PRELOAD shim (tests/faults/io_fault_shim.c): $NF_FAULT_SHIM, else beside the
# normforge binary in the build tree.
SHIM=${NF_FAULT_SHIM:-$(dirname "$NF")/tests/faults/libnf_io_fault_shim.so}
need_shim() {
  [ -f "$SHIM" ] || fail "no fault-injection shim at $SHIM (build the nf_io_fault_shim target, or set NF_FAULT_SHIM)"
  SHIM=$(realpath "$SHIM")
  # A sanitizer build wants its runtime first in the preload list.
  local asan
  asan=$(ldd "$NF" 2>/dev/null | awk '/libasan/ {print $3; exit}')
  PRELOAD=${asan:+$asan:}$SHIM
}

# with_shim VAR=VALUE... -- command...: the command with the shim preloaded and the
# given NF_FAULT_* settings (nothing else in the environment changes).
with_shim() {
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  env LD_PRELOAD="$PRELOAD" "${vars[@]}" "$@"
}

# make_slice DIR NTRAIN NTEST: a CIFAR-10 folder holding the sample's first NTRAIN
# training and NTEST test images (3073-byte records), for runs that take a second.
make_slice() {
  mkdir -p "$1"
  head -c $((3073 * $2)) "$SAMPLE/data_batch_1.bin" >"$1/data_batch_1.bin"
  head -c $((3073 * $3)) "$SAMPLE/test_batch.bin" >"$1/test_batch.bin"
  cp "$SAMPLE/batches.meta.txt" "$1/"
}

# same_final A B: true when the two runs' final/ weights and trainer state are the same bytes.
same_final() {
  cmp -s "$1/final/model.safetensors" "$2/final/model.safetensors" &&
    cmp -s "$1/final/trainer_state.safetensors" "$2/final/trainer_state.safetensors"
}

# complete_folders OUT: every checkpoint folder of the run under its final name (no
# ".tmp." in it) holds the four files; prints the first incomplete one and fails otherwise.
complete_folders() {
  local d f
  for d in "$1"/final "$1"/checkpoints/*; do
    [ -d "$d" ] || continue
    case "$d" in *.tmp.*) continue ;; esac
    for f in model.safetensors trainer_state.safetensors config.yaml manifest.json; do
      [ -f "$d/$f" ] || { echo "$d (no $f)"; return 1; }
    done
  done
}

# wait_for_glob PID PATTERN [TIMEOUT_S [INTERVAL_S]]: polls until a path matches PATTERN;
# false when PID ended first or the timeout passed. INTERVAL_S 0 (the default) polls with
# bash builtins only, without a pause: fast enough to catch a checkpoint folder while it
# is written (a few milliseconds), at the price of a busy core meanwhile.
wait_for_glob() {
  local pid=$1 pattern=$2 limit=${3:-120} interval=${4:-0} start=$SECONDS p
  WAIT_MATCH=""
  shopt -s nullglob
  while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - start)) -lt "$limit" ]; do
    for p in $pattern; do
      [ -e "$p" ] || continue
      shopt -u nullglob
      WAIT_MATCH=$p
      return 0
    done
    [ "$interval" = 0 ] || sleep "$interval"
  done
  shopt -u nullglob
  return 1
}

# resume_until_done CONFIG OUT LOG [args...]: `train --resume auto` until it exits 0
# (at most 5 times); appends each log to LOG; the first "resumed from" folder is in $RESUMED.
resume_until_done() {
  local config=$1 out=$2 log=$3 i rc
  shift 3
  RESUMED=""
  for i in 1 2 3 4 5; do
    set +e
    "$NF" train "$config" "$@" --set trainer.out_dir="$out" --resume auto >>"$log" 2>&1
    rc=$?
    set -e
    if [ -z "$RESUMED" ]; then
      RESUMED=$(grep -o 'resumed from [^ ]*' "$log" | head -1 | sed 's/resumed from //') || true
      [ -n "$RESUMED" ] || RESUMED=fresh
    fi
    [ "$rc" = 0 ] && return 0
    echo "resume $i exited $rc" >>"$log"
  done
  return 1
}

# call_number LOG PATTERN [AFTER]: the number of the first call in a shim log
# (NF_FAULT_LOG) whose line matches PATTERN (grep -E), after the first line matching
# AFTER when given; empty when none does.
call_number() {
  awk -v p="$2" -v a="${3:-}" 'a != "" && !seen && $0 ~ a {seen = 1; next} (a == "" || seen) && $0 ~ p {print $1; exit}' "$1"
}

# crash_trial OUT SIGNAL TRIGGER ARG: one crash-and-resume trial of the run
# `normforge train $CRASH_CFG "${CRASH_ARGS[@]}"` into OUT, compared with the
# uninterrupted run in $CRASH_REF.
#   SIGNAL   KILL | TERM | INT | TERM2 (two SIGTERMs 5 ms apart: the second exits at once)
#   TRIGGER  time SECONDS  (after the start)
#            step "S MS"   (MS milliseconds after the progress line of global step S:
#                           the run must log every step, trainer.log_every 1)
#            glob PATTERN  (as soon as OUT/PATTERN exists)
#            midwrite PATTERN (once OUT/PATTERN exists, at the next moment a *.tmp.*
#                           checkpoint folder exists: while a checkpoint is being written)
#            shim K        (SIGNAL must be KILL: the process kills itself just before its
#                           K-th write/fsync/rename (the kinds in $CRASH_FAULT_CALLS) in
#                           OUT, as numbered in $CRASH_CALLS)
# Then `--resume auto` until the run finishes. Sets TR_WHEN (the moment, in words),
# TR_RC (the interrupted run's exit code), TR_FROM (the folder the resume started from),
# TR_EQUAL (yes/no: final/ bitwise as $CRASH_REF's), TR_LEFT (*.tmp.* entries left in
# OUT after the resume: not an error, reported), TR_NOTE (why the trial failed);
# returns 0 when the trial passed.
crash_trial() {
  local out=$1 sig=$2 trig=$3 arg=$4 pid rc log="$1.log" msg dir="" step=""
  TR_WHEN="" TR_RC="" TR_FROM="" TR_EQUAL=no TR_NOTE="" TR_LEFT=0
  rm -rf "$out" "$log"
  local cmd=("$NF" train "$CRASH_CFG" "${CRASH_ARGS[@]}" --set trainer.out_dir="$out")
  if [ "$trig" = shim ]; then
    with_shim NF_FAULT_PATH="$out" NF_FAULT_CALLS="${CRASH_FAULT_CALLS:-write,fsync,rename}" NF_FAULT_AT="$arg" \
      NF_FAULT_ACTION=kill -- "${cmd[@]}" >"$log" 2>&1 &
  else
    "${cmd[@]}" >"$log" 2>&1 &
  fi
  pid=$!
  # Signal normforge itself, never the forked shell before its exec (bash would run this
  # script's EXIT trap there, removing $TMP).
  while kill -0 "$pid" 2>/dev/null && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$NF" ]; do sleep 0.001; done
  case $trig in
    time)
      sleep "$arg"
      TR_WHEN="t=${arg}s" ;;
    step)  # ARG "S MS": MS milliseconds after the progress line of global step S
      local want=${arg% *} ms=${arg#* } g=0 line e n spe
      while kill -0 "$pid" 2>/dev/null && [ "$g" -lt "$want" ]; do
        line=$(grep -oE 'epoch [0-9]+/[0-9]+ step [0-9]+/[0-9]+' "$log" | tail -1 || true)
        if [[ $line =~ epoch\ ([0-9]+)/[0-9]+\ step\ ([0-9]+)/([0-9]+) ]]; then
          e=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]} spe=${BASH_REMATCH[3]}
          g=$(((e - 1) * spe + n))
        fi
        [ "$g" -ge "$want" ] || sleep 0.01
      done
      [ "$g" -ge "$want" ] || TR_NOTE="the run ended before step $want"
      sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
      TR_WHEN="${ms} ms after step $want" ;;
    glob)
      wait_for_glob "$pid" "$out/$arg" 600 0.005 || TR_NOTE="never saw $arg"
      TR_WHEN="$arg appeared" ;;
    midwrite)
      wait_for_glob "$pid" "$out/$arg" 600 0.01 || TR_NOTE="never saw $arg"
      if wait_for_glob "$pid" "$out/checkpoints/*.tmp.* $out/final.tmp.*" 600 0; then
        TR_WHEN="mid-write: ${WAIT_MATCH#"$out"/}"
      else
        TR_NOTE="no checkpoint being written after $arg"
      fi ;;
    shim)
      TR_WHEN="before $(sed -n "${arg}p" "$CRASH_CALLS" | awk '{print $2, $3, $4, $5}' | sed "s|$CRASH_REF/||g")" ;;
  esac
  case $sig in
    KILL | TERM | INT) [ "$trig" = shim ] || kill -"$sig" "$pid" 2>/dev/null || true ;;
    TERM2)  # 5 ms apart: two signals sent at once would merge into one delivery
      kill -TERM "$pid" 2>/dev/null && sleep 0.005 && kill -TERM "$pid" 2>/dev/null || true ;;
  esac
  set +e
  wait "$pid"
  rc=$?
  set -e
  TR_RC=$rc
  if [ -z "$TR_NOTE" ]; then
    case $sig in
      KILL) [ "$rc" = 137 ] || TR_NOTE="exit $rc, expected 137 (killed)" ;;
      TERM | INT)
        local code=143 name=SIGTERM
        [ "$sig" = INT ] && code=130 name=SIGINT
        if [ "$rc" = 0 ]; then
          TR_WHEN="$TR_WHEN (run already past its last step)"
        elif [ "$rc" != "$code" ]; then
          TR_NOTE="exit $rc, expected $code"
        else
          msg=$(grep -E "$name: stopped at epoch [0-9]+, step [0-9]+; checkpoint .* \(continue with --resume auto\)" "$log" || true)
          dir=$(sed -E 's/.*; checkpoint (.*) \(continue with.*/\1/' <<<"$msg")
          step=$(sed -E 's/.*, step ([0-9]+);.*/\1/' <<<"$msg")
          if [ -z "$msg" ]; then
            TR_NOTE="no '$name: stopped at epoch E, step S; checkpoint DIR (continue with --resume auto)' line"
          elif [ ! -f "$dir/manifest.json" ]; then
            TR_NOTE="the stop checkpoint $dir is not there"
          elif [ "$(basename "$dir")" != "$(printf 'step_%07d' "$step")" ]; then
            TR_NOTE="the stop checkpoint $dir is not step_$(printf '%07d' "$step")"
          fi
          TR_WHEN="$TR_WHEN: stopped at step $step"
        fi ;;
      TERM2)
        [ "$rc" = 143 ] || [ "$rc" = 0 ] || TR_NOTE="exit $rc, expected 143"
        if [ "$rc" = 143 ] && ! grep -q 'SIGTERM: stopped at' "$log"; then
          TR_WHEN="$TR_WHEN: exited at the second signal"
        fi ;;
    esac
  fi
  # What the interruption left: no folder under a final name incomplete or corrupted.
  local bad
  if ! bad=$(complete_folders "$out"); then
    TR_NOTE="${TR_NOTE:+$TR_NOTE; }incomplete folder: $bad"
  elif "$NF" verify "$out" 2>&1 | grep -q '^BAD'; then
    TR_NOTE="${TR_NOTE:+$TR_NOTE; }verify: $("$NF" verify "$out" 2>&1 | grep '^BAD' | head -1)"
  fi
  if [ "$rc" = 0 ]; then
    TR_FROM="(finished)"
  elif ! resume_until_done "$CRASH_CFG" "$out" "$log" "${CRASH_ARGS[@]}"; then
    TR_NOTE="${TR_NOTE:+$TR_NOTE; }--resume auto never finished (log $log)"
    TR_FROM=${RESUMED#"$out"/}
    return 1
  else
    TR_FROM=${RESUMED#"$out"/}
  fi
  # After a stop signal the resume starts from the step checkpoint it wrote (or from an
  # epoch checkpoint of the same step: epoch_ wins a tie).
  if [ -n "${dir:-}" ] && [ "$RESUMED" != "$dir" ] && [ "$rc" != 0 ]; then
    local rstep
    rstep=$(grep -oE 'resumed from [^ ]* \(epoch [0-9]+, step [0-9]+' "$log" | head -1 | grep -oE '[0-9]+$' || true)
    [ "$rstep" = "$step" ] || TR_NOTE="${TR_NOTE:+$TR_NOTE; }resumed from $RESUMED (step $rstep), not the stop checkpoint $dir"
  fi
  # Temporary folders and files the interruption left behind (still there after the resume).
  TR_LEFT=$(find "$out" -name '*.tmp.*' -prune -print | wc -l)
  if same_final "$CRASH_REF" "$out"; then TR_EQUAL=yes; else TR_NOTE="${TR_NOTE:+$TR_NOTE; }final/ differs"; fi
  [ -z "$TR_NOTE" ]
}
