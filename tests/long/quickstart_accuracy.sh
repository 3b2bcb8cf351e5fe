# Learning test on real data (long: about 2.5 minutes on 2 cores): configs/quickstart.yaml
# must reach at least 86% test top-1 on Fashion-MNIST. Run with `tools/test.sh --long`.
source "$(dirname "$0")/../cli/common.bash"
[ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || { echo "SKIP: no Fashion-MNIST"; exit 77; }
"$NF" train configs/quickstart.yaml --set trainer.out_dir="$TMP/q" >/dev/null 2>&1
"$NF" eval configs/quickstart.yaml --checkpoint "$TMP/q/final" --json >"$TMP/eval.json"
"$PY" -c "import json; t=json.load(open('$TMP/eval.json'))['top1']; print('quickstart test top-1', t); assert t >= 0.86" \
  || fail "quickstart below 86%: $(cat "$TMP/eval.json")"
