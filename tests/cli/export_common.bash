# Shared by tests/cli/export_*.sh: `source export_common.bash` after common.bash.
CHECK=("$PY" "$SRC/tests/cli/export_check.py")
CLASSES="$SAMPLE/batches.meta.txt"
CIFAR_MEAN="[0.4914, 0.4822, 0.4465]" CIFAR_STD="[0.2470, 0.2435, 0.2616]"

# testset K: a copy of the sample with the first K test images (the training file linked).
testset() {
  local d="$TMP/cifar$1"
  [ -d "$d" ] && { echo "$d"; return; }
  mkdir -p "$d"
  ln -s "$SAMPLE/data_batch_1.bin" "$SAMPLE/batches.meta.txt" "$d/"
  head -c $(($1 * 3073)) "$SAMPLE/test_batch.bin" >"$d/test_batch.bin"
  echo "$d"
}

# model NAME K MEAN STD [KEY=VALUE...] [-- LAYER...]: $TMP/NAME/r.yaml (common.bash's recipe
# with these model keys or layers) on the first K test images, then train 3 steps, spread
# the BatchNorm affine parameters, recalibrate over 2 batches ($TMP/NAME/ckpt) and write
# normforge's logits ($TMP/NAME/logits.npy).
model() {
  local name=$1 k=$2 mean=$3 std=$4 data norm=""; shift 4
  data=$(testset "$k")
  [ "$mean" = "[]" ] || norm="{normalize: {mean: $mean, std: $std}}"
  mkdir -p "$TMP/$name"
  echo "$data" >"$TMP/$name/data"
  recipe "$TMP/$name/r.yaml" threads=2 data.root="$data" data.batch_size=16 data.eval_batch_size=100 data.workers=0 \
    data.train_transforms="[$norm]" data.test_transforms="[$norm]" trainer.max_steps=3 trainer.eval_every=0 \
    trainer.checkpoint_every=0 trainer.out_dir="$TMP/$name/run" "$@"
  local r="$TMP/$name/r.yaml"
  # (training ends with an evaluation: on 16 test images, to save time)
  "$NF" train "$r" --set data.root="$(testset 16)" >"$TMP/$name/log" 2>&1 || { cat "$TMP/$name/log"; fail "$name: train"; }
  "${CHECK[@]}" perturb "$TMP/$name/run/final" "$TMP/$name/spread.safetensors" || fail "$name: perturb"
  "$NF" recalibrate-bn "$r" --checkpoint "$TMP/$name/spread.safetensors" --batches 2 -o "$TMP/$name/ckpt" \
    >"$TMP/$name/log" 2>&1 || { cat "$TMP/$name/log"; fail "$name: recalibrate-bn"; }
  "$NF" eval "$r" --checkpoint "$TMP/$name/ckpt" --json --logits "$TMP/$name/logits.npy" >"$TMP/$name/eval.json" \
    2>"$TMP/$name/log" || { cat "$TMP/$name/log"; fail "$name: eval --logits"; }
}

# The listed network of the export tests: a BatchNorm after a conv with a bias (1), one
# after a ReLU (3), GroupNorm, a residual block with BatchNorms after its three convs,
# LayerNorm on images (9) and on features (13), dropout, a BatchNorm1d head (14-17).
LISTED=(
  "- {conv: {out: 16, kernel: 3, padding: 1}}" "- batch_norm" "- relu" "- batch_norm"
  "- {conv: {out: 16, kernel: 3, padding: 1, bias: false}}" "- {group_norm: {groups: 4}}" "- relu"
  "- residual: {body: [{conv: {out: 32, kernel: 3, stride: 2, padding: 1, bias: false}}, batch_norm, relu, {conv: {out: 32, kernel: 3, padding: 1, bias: false}}, batch_norm], shortcut: [{conv: {out: 32, kernel: 1, stride: 2, bias: false}}, batch_norm]}"
  "- relu" "- layer_norm" "- {dropout: {p: 0.3}}" "- global_avg_pool" "- flatten" "- layer_norm"
  "- {linear: {out: 32}}" "- batch_norm" "- relu" "- {linear: {out: classes}}")
# Its BatchNorms directly after a conv, and those convs.
LISTED_FOLDED='{"1": "0", "7.body.1": "7.body.0", "7.body.4": "7.body.3", "7.shortcut.1": "7.shortcut.0"}'

# The layer arguments the listed network lacks: BatchNorm without affine (1), average
# pooling with padding (3), a dilated grouped conv, ghost BatchNorm (5), max pooling with
# padding, repeat with identity-shortcut residuals (8, 9), instance norm with affine
# parameters (11) and with running statistics (12), linear without bias.
EDGE=(
  "- {conv: {out: 16, kernel: 3, padding: 1, bias: false}}" "- {batch_norm: {affine: false}}" "- relu"
  "- {avg_pool: {kernel: 3, stride: 1, padding: 1}}" "- {conv: {out: 16, kernel: 3, padding: 2, dilation: 2, groups: 4}}"
  "- {batch_norm: {virtual_batch: 4}}" "- relu" "- {max_pool: {kernel: 3, stride: 2, padding: 1}}"
  "- {repeat: {times: 2, layers: [{residual: {body: [{conv: {out: 16, kernel: 3, padding: 1, bias: false}}, batch_norm, relu]}}]}}"
  "- {avg_pool: {kernel: 2}}" "- {instance_norm: {affine: true}}" "- {instance_norm: {track_running_stats: true}}"
  "- global_avg_pool" "- flatten" "- {linear: {out: 16, bias: false}}" "- relu"
  "- {linear: {out: classes}}")
EDGE_FOLDED='{"1": "0", "5": "4", "8.body.1": "8.body.0", "9.body.1": "9.body.0"}'
