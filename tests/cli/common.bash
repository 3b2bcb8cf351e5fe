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
