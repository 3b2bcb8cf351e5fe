# Shared by the command-line tests: `source common.bash` after setting NF and SRC.
# Each test gets a fresh temporary folder; a failed check prints why and exits 1.
set -euo pipefail
NF=$(realpath "$1")
SRC=$(realpath "$2")
SAMPLE="$SRC/../shared/data/cifar10-sample/cifar-10-batches-bin"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$SRC"
PY=/usr/bin/python3  # Debian's python with numpy (the pyenv one has none)

fail() { echo "FAIL: $*" >&2; exit 1; }
need_sample() { [ -f "$SAMPLE/data_batch_1.bin" ] || { echo "SKIP: CIFAR-10 sample not at $SAMPLE"; exit 77; }; }

# expect_error CODE PATTERN -- command...: the command exits with CODE, prints a
# single-line error on stderr matching PATTERN (grep -E), and does not crash.
expect_error() {
  local code=$1 pattern=$2; shift 3
  set +e
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  set -e
  [ "$rc" = "$code" ] || { cat "$TMP/err" >&2; fail "exit code $rc, expected $code: $*"; }
  grep -qE "$pattern" "$TMP/err" || { cat "$TMP/err" >&2; fail "error does not match /$pattern/: $*"; }
  [ "$(grep -c 'error' "$TMP/err")" -le 2 ] || { cat "$TMP/err" >&2; fail "more than one error line: $*"; }
}

# Tensors of a safetensors file as numpy arrays, for the checks below.
st_py() {
  "$PY" - "$@" <<'PYEOF'
import json, struct, sys
import numpy as np
DT = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n)); data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], DT[v["dtype"]]).reshape(v["shape"])
            for k, v in h.items() if k != "__metadata__"}
exec(sys.argv[1])
PYEOF
}

# recipe FILE [KEY=VALUE...] [-- LAYER...]: writes the small recipe the tests train: the
# defaults below, each KEY=VALUE set as `--set` would (KEY a dotted recipe path, VALUE
# YAML; "-" drops the key), as block YAML. The network is model.name when given, else the
# LAYER lines (YAML list items: "- batch_norm", "- {conv: {out: 8, kernel: 3}}"), else a
# small CNN: conv W, BN, ReLU, max pool 2, conv 2W, BN, ReLU, global average pool,
# flatten, [dropout P,] linear, with W and P from the pseudo-keys width=W (8) and dropout=P.
# Defaults: seed 0, threads 1, the CIFAR-10 sample (data.root is dropped for another
# data.dataset unless given), batch 64, eval batch 64, 1 worker, SGD lr 0.05, 1 epoch,
# out_dir $TMP/run.
recipe() {
  local file=$1 width=8 dropout="" k v i j n pre layers=() lines=()
  shift
  local -a keys=(seed threads model.layers data.dataset data.root data.batch_size data.eval_batch_size
    data.workers optimizer.name optimizer.lr trainer.epochs trainer.out_dir)
  local -A val=([seed]=0 [threads]=1 [model.layers]="" [data.dataset]=cifar10 [data.root]="" [data.batch_size]=64
    [data.eval_batch_size]=64 [data.workers]=1 [optimizer.name]=sgd [optimizer.lr]=0.05 [trainer.epochs]=1
    [trainer.out_dir]="$TMP/run")
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    k=${1%%=*} v=${1#*=}
    shift
    case $k in width) width=$v; continue ;; dropout) dropout=$v; continue ;; esac
    if [ -z "${val[$k]+set}" ]; then  # a new key: after its longest-prefix kin
      pre=$k j=${#keys[@]}
      while [ "$j" = ${#keys[@]} ] && [[ $pre == *.* ]]; do
        pre=${pre%.*}
        for i in "${!keys[@]}"; do [[ ${keys[$i]} == "$pre".* ]] && j=$((i + 1)); done
      done
      keys=("${keys[@]:0:j}" "$k" "${keys[@]:j}")
    fi
    val[$k]=$v
  done
  [ "${1:-}" != -- ] || { shift; layers=("$@"); }
  if [ -z "${val[data.root]}" ]; then  # the sample for CIFAR-10, the dataset's default otherwise
    val[data.root]=-
    [ "${val[data.dataset]}" != cifar10 ] || val[data.root]=$SAMPLE
  fi
  if [ -n "${val[model.name]+set}" ]; then
    layers=()
  elif [ ${#layers[@]} = 0 ]; then
    layers=("- {conv: {out: $width, kernel: 3, padding: 1, bias: false}}" "- batch_norm" "- relu" "- {max_pool: {kernel: 2}}"
      "- {conv: {out: $((2 * width)), kernel: 3, padding: 1, bias: false}}" "- batch_norm" "- relu"
      "- global_avg_pool" "- flatten" ${dropout:+"- {dropout: {p: $dropout}}"} "- {linear: {out: classes}}")
  fi
  local prev=()
  for k in "${keys[@]}"; do
    if [ "$k" = model.layers ]; then
      [ ${#layers[@]} -gt 0 ] || continue
    elif [ "${val[$k]}" = - ]; then
      continue
    fi
    IFS=. read -r -a c <<<"$k"
    n=${#c[@]} j=0
    while [ "$j" -lt $((n - 1)) ] && [ "${prev[$j]:-}" = "${c[$j]}" ]; do j=$((j + 1)); done
    for ((i = j; i < n - 1; i++)); do lines+=("$(printf '%*s' $((2 * i)) '')${c[$i]}:"); done
    if [ "$k" = model.layers ]; then
      lines+=("$(printf '%*s' $((2 * n - 2)) '')layers:")
      for v in "${layers[@]}"; do lines+=("$(printf '%*s' $((2 * n)) '')$v"); done
    else
      lines+=("$(printf '%*s' $((2 * n - 2)) '')${c[n - 1]}: ${val[$k]}")
    fi
    prev=("${c[@]}")
  done
  printf '%s\n' "${lines[@]}" >"$file"
}
