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
# YAML, written as given; "-" drops the key), as block YAML. The network is model.name when
# given, else the LAYER lines (YAML list items: "- batch_norm", "- {conv: {out: 8, kernel: 3}}"),
# else a small CNN: conv W, BN, ReLU, max pool 2, conv 2W, BN, ReLU, global average pool,
# flatten, [dropout P,] linear, with W and P from the pseudo-keys width=W (8) and dropout=P.
# Defaults: seed 0, threads 1, the CIFAR-10 sample (data.root is dropped for another
# data.dataset unless given), batch 64, eval batch 64, 1 worker, SGD lr 0.05, 1 epoch,
# out_dir $TMP/run.
recipe() {
  "$PY" - "$SAMPLE" "$TMP" "$@" <<'PYEOF'
import sys
sample, tmp, file, *args = sys.argv[1:]
sets, layers = (args[: args.index("--")], args[args.index("--") + 1 :]) if "--" in args else (args, [])
given = dict(a.split("=", 1) for a in sets)
width, dropout = int(given.pop("width", 8)), given.pop("dropout", "")
values = {"seed": "0", "threads": "1", "model.layers": None, "data.dataset": "cifar10", "data.root": "",
          "data.batch_size": "64", "data.eval_batch_size": "64", "data.workers": "1", "optimizer.name": "sgd",
          "optimizer.lr": "0.05", "trainer.epochs": "1", "trainer.out_dir": tmp + "/run"}
values.update(given)
if not values["data.root"]:  # the sample for CIFAR-10, the dataset's default otherwise
    values["data.root"] = sample if values["data.dataset"] == "cifar10" else "-"
if "model.name" in values:
    layers = []
elif not layers:
    layers = [f"- {{conv: {{out: {width}, kernel: 3, padding: 1, bias: false}}}}", "- batch_norm", "- relu",
              "- {max_pool: {kernel: 2}}", f"- {{conv: {{out: {2 * width}, kernel: 3, padding: 1, bias: false}}}}",
              "- batch_norm", "- relu", "- global_avg_pool", "- flatten"]
    layers += [f"- {{dropout: {{p: {dropout}}}}}"] * bool(dropout) + ["- {linear: {out: classes}}"]
tree = {}  # keys grouped under their parents, in the order first given
for key, v in values.items():
    if v == "-":
        continue
    *parents, leaf = key.split(".")
    node = tree
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = v
def emit(node, pad):  # the lines of a mapping; a key with nothing under it is left out
    lines = []
    for k, v in node.items():
        below = emit(v, pad + "  ") if isinstance(v, dict) else [f"{pad}  {line}" for line in layers] if v is None else None
        if below is None:
            lines.append(f"{pad}{k}: {v}")
        elif below:
            lines += [f"{pad}{k}:"] + below
    return lines
open(file, "w").write("\n".join(emit(tree, "")) + "\n")
PYEOF
}
