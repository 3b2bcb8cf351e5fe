# `normforge bench`: a short run prints the figures and, with --json, one JSON object on
# the last line of stdout with the documented fields.
source "$(dirname "$0")/common.bash"
"$NF" bench configs/smoke.yaml --batch 16 --iters 2 --threads 2 --json >"$TMP/out"
grep -q "train:.*img/s" "$TMP/out" || fail "no train line: $(cat "$TMP/out")"
tail -1 "$TMP/out" | "$PY" -c "
import json, sys
j = json.loads(sys.stdin.read())
for k in ['train_images_per_s', 'eval_images_per_s', 'peak_rss_mib', 'gflops']:
    assert j[k] > 0, (k, j)
assert j['batch'] == 16 and j['threads'] == 2, j
assert j['macs_per_image'] > 0, j
" || fail "bench --json: $(tail -1 "$TMP/out")"
expect_error 2 "normforge: " -- "$NF" bench configs/smoke.yaml --iters 0
echo "bench: ok"
