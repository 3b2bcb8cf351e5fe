# normforge export / predict --onnx / eval --logits on bad input: a checkpoint that does not
# match the recipe, an unknown --format, a bad --batch, an output that cannot be written, a
# BatchNorm without running statistics (no ONNX form), an ONNX file that is not a normforge
# export (or not ONNX at all): exit 1 with one error line, no output file (nor a temporary
# one) left behind. An existing output is an error that leaves it untouched.
source "$(dirname "$0")/common.bash"
need_sample
source "$SRC/tests/cli/export_common.bash"

# One error line on stderr and nothing else.
expect_failure() {  # expect_failure PATTERN -- command...
  expect_error 1 "$@"
  [ "$(wc -l <"$TMP/err")" = 1 ] || { cat "$TMP/err" >&2; fail "more than one line on stderr: ${*:3}"; }
}
# Nothing in $O but what the test put there.
clean() { [ "$(ls -A "$O" | sort | tr '\n' ' ')" = "existing existing.onnx " ] ||
  fail "a failed command left files behind: $(ls -A "$O" | tr '\n' ' ')"; }

# recipe_on_sample FILE OUT_DIR [KEY=VALUE...] [-- LAYER...]: one step on the sample, no evaluation.
recipe_on_sample() {
  local file=$1 out=$2; shift 2
  recipe "$file" threads=2 data.batch_size=16 data.eval_batch_size=500 data.workers=0 trainer.max_steps=1 \
    trainer.eval_every=0 trainer.checkpoint_every=0 trainer.out_dir="$out" "$@"
}
recipe_on_sample "$TMP/r.yaml" "$TMP/run" model.name=resnet20
recipe_on_sample "$TMP/r32.yaml" "$TMP/run" model.name=resnet32
"$NF" train "$TMP/r.yaml" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "training ResNet-20"; }
C="$TMP/run/final"
O="$TMP/o"
mkdir -p "$O" "$O/existing"
echo "keep me" >"$O/existing.onnx"
echo "keep me too" >"$O/existing/model.safetensors"
snapshot() { ls -lR --time-style=full-iso "$O"; md5sum "$O/existing.onnx" "$O/existing/model.safetensors"; }
before=$(snapshot)

# A ResNet-20 checkpoint with a ResNet-32 recipe, both formats; also onto existing targets.
for fmt in onnx safetensors; do
  expect_failure "missing key|does not match|shape" -- "$NF" export "$TMP/r32.yaml" --checkpoint "$C" --format $fmt -o "$O/new.$fmt"
  clean
done
# An existing output (export writes a new file or folder), good checkpoint or not.
for c in "$TMP/r.yaml" "$TMP/r32.yaml"; do
  expect_failure "existing.onnx: already exists|missing key" -- "$NF" export "$c" --checkpoint "$C" --format onnx -o "$O/existing.onnx"
  expect_failure "existing: already exists|missing key" -- "$NF" export "$c" --checkpoint "$C" --format safetensors -o "$O/existing"
done
expect_failure "no such checkpoint|$TMP/none" -- "$NF" export "$TMP/r.yaml" --checkpoint "$TMP/none" --format onnx -o "$O/new.onnx"
# --format and --batch.
expect_failure "foo" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format foo -o "$O/new.onnx"
expect_failure "foo|already exists" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format foo -o "$O/existing.onnx"
expect_failure "batch" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format onnx --batch 0 -o "$O/new.onnx"
expect_failure "batch" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format onnx --batch lots -o "$O/new.onnx"
clean
# Outputs that cannot be written: in /proc, under a regular file.
expect_failure "/proc/nope.onnx" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format onnx -o /proc/nope.onnx
expect_failure "/proc/nope" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format safetensors -o /proc/nope
expect_failure "existing.onnx/x.onnx" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format onnx -o "$O/existing.onnx/x.onnx"
expect_failure "existing.onnx/x" -- "$NF" export "$TMP/r.yaml" --checkpoint "$C" --format safetensors -o "$O/existing.onnx/x"
expect_failure "/proc/nope.npy" -- "$NF" eval "$TMP/r.yaml" --checkpoint "$C" --logits /proc/nope.npy
clean
[ "$before" = "$(snapshot)" ] || fail "a failed export changed an existing target"

# A BatchNorm without running statistics has no inference form: no ONNX export.
recipe_on_sample "$TMP/nt.yaml" "$TMP/nt" -- "- {conv: {out: 8, kernel: 3}}" "- {batch_norm: {track_running_stats: false}}" \
  "- relu" "- global_avg_pool" "- flatten" "- {linear: {out: classes}}"
"$NF" train "$TMP/nt.yaml" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "training the network without running statistics"; }
expect_failure "track_running_stats|running statistics" -- "$NF" export "$TMP/nt.yaml" --checkpoint "$TMP/nt/final" --format onnx -o "$O/nt.onnx"
clean

# predict --onnx: a valid ONNX file that is not a normforge export, a file that is not
# ONNX, a missing one.
"${CHECK[@]}" relu "$TMP/relu.onnx" || fail "writing relu.onnx"
"${CHECK[@]}" png "$SAMPLE" 0 "$TMP/img.png" || fail "writing a PNG"
expect_failure "relu.onnx.*(normforge|metadata)" -- "$NF" predict "$TMP/r.yaml" --onnx "$TMP/relu.onnx" "$TMP/img.png"
head -c 3000 "$SAMPLE/test_batch.bin" >"$TMP/garbage.onnx"
expect_failure "garbage.onnx" -- "$NF" predict "$TMP/r.yaml" --onnx "$TMP/garbage.onnx" "$TMP/img.png"
expect_failure "missing.onnx" -- "$NF" predict "$TMP/r.yaml" --onnx "$TMP/missing.onnx" "$TMP/img.png"
# A good export still predicts (the failures above are not about the image).
"$NF" export "$TMP/r.yaml" --checkpoint "$C" --format onnx -o "$TMP/good.onnx" >"$TMP/log" 2>&1 ||
  { cat "$TMP/log"; fail "export of the good checkpoint"; }
"$NF" predict "$TMP/r.yaml" --onnx "$TMP/good.onnx" "$TMP/img.png" >"$TMP/pred" 2>"$TMP/log" ||
  { cat "$TMP/log"; fail "predict --onnx on a good export"; }
[ "$(grep -c '%' "$TMP/pred")" -ge 1 ] || fail "predict --onnx output: $(cat "$TMP/pred")"
echo "export_bad_inputs: ok"
