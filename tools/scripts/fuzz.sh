#!/usr/bin/env bash
# libFuzzer run of one parser: tools/scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#   TARGET: safetensors | checkpoint | recipe | cifar | idx | image   (tests/fuzz/TARGET.cpp)
# Configures build-fuzz/ (clang++; -fsanitize=fuzzer-no-link,address,undefined on all
# the code the target links, so coverage and checks reach the engine; CUDA off), builds
# fuzz_TARGET, runs it SECONDS seconds on tests/fuzz/corpus/TARGET with
# tests/fuzz/dict/TARGET.dict. New inputs go to build-fuzz/corpus/TARGET (never into
# the repository); a finding goes to build-fuzz/findings/TARGET/ (crash-*, leak-*,
# timeout-*, oom-*): add it to tests/fuzz/corpus/TARGET/ once fixed, and the suite's
# fuzz_replay.TARGET keeps it fixed. Prints libFuzzer's final stats; exits 1 on a finding.
#   NF_FUZZ_BUILD=dir   build folder (default build-fuzz)      NF_FUZZ_SRC=dir  source tree (default: this one)
#   NF_FUZZ_JOBS=N      parallel compile jobs (default nproc)
set -euo pipefail
cd "$(dirname "$0")/../.."
targets="safetensors checkpoint recipe cifar idx image"
if [ $# -lt 2 ] || ! [[ " $targets " == *" $1 "* ]] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: tools/scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]   TARGET: ${targets// / | }" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
src=$(realpath "${NF_FUZZ_SRC:-.}")
build=$(realpath -m "${NF_FUZZ_BUILD:-build-fuzz}")
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang libclang-rt-dev)" >&2; exit 2; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$src" -B "$build" -G Ninja "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DNF_WITH_CUDA=OFF -DNF_FUZZ=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-unknown-warning-option" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
cmake --build "$build" -j"${NF_FUZZ_JOBS:-$(nproc)}" --target "fuzz_$target"

corpus="$build/corpus/$target" findings="$build/findings/$target" log="$build/logs/$target.log"
mkdir -p "$corpus" "$findings" "$(dirname "$log")"
flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
       -artifact_prefix="$findings/" -max_len=16384)
[ -f "$src/tests/fuzz/dict/$target.dict" ] && flags+=(-dict="$src/tests/fuzz/dict/$target.dict")
export OMP_NUM_THREADS=1 OPENCV_FOR_THREADS_NUM=1 OPENCV_IO_MAX_IMAGE_PIXELS=4194304
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
echo "fuzz: $target for ${seconds}s, log $log" >&2
start=$(date +%s)
set +e
"$build/tests/fuzz/fuzz_$target" "${flags[@]}" "$@" "$corpus" "$src/tests/fuzz/corpus/$target" >"$log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || true)
echo "fuzz: $target ran ${elapsed}s, exit $rc; last status: ${last:-none}"
grep -E '^stat::' "$log" || true
echo "fuzz: $target executions ${execs:-?}, $(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo 'cov: ?'), corpus $(ls "$corpus" | wc -l) new inputs in $corpus"
if [ "$rc" -ne 0 ]; then
  grep -E 'ERROR: |SUMMARY: |runtime error|nf_fuzz: |terminate called|what\(\)' "$log" | head -20 >&2 || true
  echo "fuzz: FINDING in $target: $(ls "$findings" | tr '\n' ' ')(log $log)" >&2
  exit 1
fi
