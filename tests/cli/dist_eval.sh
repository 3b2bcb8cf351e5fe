# Sharded evaluation is exact (label mpi): `eval` on 2 and 3 ranks (batches dealt
# round-robin, 3 ranks unevenly) prints the same JSON, to the last digit, as one
# process, and writes the same logits, byte for byte, on the CIFAR-10 sample's 1,000
# test images. A 2-rank training run's own end-of-run test numbers (metrics.jsonl) are
# those of one process evaluating its final checkpoint.
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/dist_common.bash"
need_sample
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/run" --set trainer.max_steps=3 >"$TMP/train.log" 2>&1 ||
  { cat "$TMP/train.log"; fail "train"; }
"$NF" eval configs/smoke.yaml --checkpoint "$TMP/run/final" --json --logits "$TMP/one.npy" >"$TMP/one.json" ||
  fail "eval, one process"
for n in 2 3; do
  mpirun_n "$n" "$NF" eval configs/smoke.yaml --checkpoint "$TMP/run/final" --json --logits "$TMP/r$n.npy" \
    --set threads=1 >"$TMP/r$n.json" 2>"$TMP/r$n.err" || { cat "$TMP/r$n.err"; fail "eval, $n ranks"; }
  [ "$(wc -l <"$TMP/r$n.json")" = 1 ] || { cat "$TMP/r$n.json"; fail "$n ranks: expected one JSON line (rank 0's)"; }
  cmp -s "$TMP/one.json" "$TMP/r$n.json" || { cat "$TMP/one.json" "$TMP/r$n.json"; fail "$n ranks: eval --json differs"; }
  cmp -s "$TMP/one.npy" "$TMP/r$n.npy" || fail "$n ranks: logits differ"
  echo "$n ranks: $(cat "$TMP/r$n.json") (identical, logits identical)"
done

mpirun2 "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/two" --set trainer.max_steps=3 --set threads=1 \
  --set data.batch_size=32 >"$TMP/two.log" 2>&1 || { cat "$TMP/two.log"; fail "train, 2 ranks"; }
"$NF" eval configs/smoke.yaml --checkpoint "$TMP/two/final" --json >"$TMP/two_eval.json" || fail "eval of the 2-rank run"
"$PY" - "$TMP/two/metrics.jsonl" "$TMP/two_eval.json" <<'PYEOF' || fail "the 2-rank run's test numbers"
import json, sys
line = json.loads(open(sys.argv[1]).read().splitlines()[-1])
ev = json.load(open(sys.argv[2]))
for k in ("loss", "top1", "top5"):
    assert line["test_" + k] == ev[k], f"test_{k}: {line['test_' + k]} in metrics.jsonl, {ev[k]} from eval"
assert "allreduce_wait_ms" in line, "a multi-rank run reports allreduce_wait_ms"
print(f"2-rank run: test loss {ev['loss']} top1 {ev['top1']} == one-process eval of its final checkpoint")
PYEOF
echo "dist_eval: ok"
