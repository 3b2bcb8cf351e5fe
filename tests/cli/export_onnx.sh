# normforge export --format onnx: for ResNet-20 (projection and option-A shortcuts),
# PreAct-ResNet-18 and a listed network (BatchNorm after a ReLU, GroupNorm, LayerNorm on
# images and on features, a residual block, dropout, a BatchNorm1d head), each trained 3
# steps, its BatchNorm affine parameters spread (export_check.py perturb) and its running
# statistics recalibrated over 2 batches, the exported file (folded, the default, and
# --keep-bn) passes onnx.checker (full check) and strict shape inference; has opset 13,
# `input` [N, 3, 32, 32] and `logits` [N, classes] with a dynamic N, the normforge.*
# metadata of the recipe; no BatchNormalization fed by a Conv when folded, one per
# BatchNorm layer with --keep-bn; and OpenCV dnn on it gives normforge's `eval --logits`
# within 1e-4 with the same top-1 on every test image. `--batch 4` fixes the batch;
# `predict --onnx` prints what `predict --checkpoint` prints. Last, a network of the
# remaining layer arguments (padded average pooling, ghost and affine-free BatchNorm, ...).
source "$(dirname "$0")/common.bash"
need_sample
source "$SRC/tests/cli/export_common.bash"
SECONDS=0

# export_both NAME [ARGS...]: $TMP/NAME/fold.onnx (default flags) and keep.onnx (--keep-bn).
export_both() {
  local name=$1; shift
  for v in fold keep; do
    local flag=(); [ $v = keep ] && flag=(--keep-bn)
    "$NF" export "$TMP/$name/r.yaml" --checkpoint "$TMP/$name/ckpt" --format onnx -o "$TMP/$name/$v.onnx" "${flag[@]}" "$@" \
      >"$TMP/$name/log" 2>&1 || { cat "$TMP/$name/log"; fail "$name: export --format onnx ${flag[*]}"; }
    [ -s "$TMP/$name/$v.onnx" ] || fail "$name: export wrote no $v.onnx"
  done
}

# verify NAME MEAN STD EXTRA_CONVS [--fixed FILE]: export_check.py onnx.
verify() {
  local name=$1 mean=$2 std=$3 extra=$4; shift 4
  "${CHECK[@]}" onnx "$name" --fold "$TMP/$name/fold.onnx" --keep "$TMP/$name/keep.onnx" \
    --checkpoint "$TMP/$name/ckpt" --logits "$TMP/$name/logits.npy" --data "$(cat "$TMP/$name/data")" \
    --mean "$mean" --std "$std" --classes-file "$CLASSES" --extra-convs "$extra" "$@" || fail "$name: ONNX checks"
}

# ResNet-20, projection shortcuts, all 1,000 test images; also --batch 4 and predict --onnx.
model r20proj 1000 "$CIFAR_MEAN" "$CIFAR_STD" model.name=resnet20 model.shortcut=projection
export_both r20proj
"$NF" export "$TMP/r20proj/r.yaml" --checkpoint "$TMP/r20proj/ckpt" --format onnx --batch 4 -o "$TMP/r20proj/b4.onnx" \
  >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "r20proj: export --batch 4"; }
verify r20proj "$CIFAR_MEAN" "$CIFAR_STD" 0 --fixed "$TMP/r20proj/b4.onnx" --fixed-batch 4
for i in 0 7; do
  "${CHECK[@]}" png "$(testset 1000)" $i "$TMP/r20proj/img$i.png" || fail "writing a PNG"
  "$NF" predict "$TMP/r20proj/r.yaml" --onnx "$TMP/r20proj/fold.onnx" "$TMP/r20proj/img$i.png" >"$TMP/r20proj/pred_onnx" \
    2>"$TMP/log" || { cat "$TMP/log"; fail "predict --onnx"; }
  "$NF" predict "$TMP/r20proj/r.yaml" --checkpoint "$TMP/r20proj/ckpt" "$TMP/r20proj/img$i.png" >"$TMP/r20proj/pred_ckpt" \
    2>"$TMP/log" || { cat "$TMP/log"; fail "predict --checkpoint"; }
  "${CHECK[@]}" predict "predict --onnx, test image $i" "$TMP/r20proj/pred_onnx" "$TMP/r20proj/logits.npy" $i \
    --classes-file "$CLASSES" || fail "predict --onnx vs eval's logits"
  sed 1d "$TMP/r20proj/pred_onnx" | cut -c1-25 >"$TMP/a"; sed 1d "$TMP/r20proj/pred_ckpt" | cut -c1-25 >"$TMP/b"
  cmp -s "$TMP/a" "$TMP/b" || fail "predict --onnx and --checkpoint rank classes differently: $(paste "$TMP/a" "$TMP/b")"
done
echo "[${SECONDS}s] resnet20 projection: ok"

# ResNet-20, option-A shortcuts (each becomes a fixed 1x1 strided Conv: 2 Conv nodes more).
model r20pad 1000 "$CIFAR_MEAN" "$CIFAR_STD" model.name=resnet20 model.shortcut=pad
export_both r20pad
verify r20pad "$CIFAR_MEAN" "$CIFAR_STD" 2
echo "[${SECONDS}s] resnet20 pad: ok"

# PreAct-ResNet-18 on the first 300 test images (its BatchNorms mostly precede convolutions).
model preact 300 "[0.5, 0.5, 0.5]" "[0.25, 0.25, 0.25]" model.name=preact_resnet18
export_both preact
verify preact "[0.5, 0.5, 0.5]" "[0.25, 0.25, 0.25]" 0
echo "[${SECONDS}s] preact_resnet18: ok"

# A listed network, no normalize (metadata mean/std []): explicit --fold-bn --batch dynamic
# writes the same file as the defaults.
model listed 1000 "[]" "[]" -- "${LISTED[@]}"
export_both listed
"$NF" export "$TMP/listed/r.yaml" --checkpoint "$TMP/listed/ckpt" --format onnx --fold-bn --batch dynamic \
  -o "$TMP/listed/explicit.onnx" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "listed: export --fold-bn --batch dynamic"; }
cmp -s "$TMP/listed/fold.onnx" "$TMP/listed/explicit.onnx" || fail "--fold-bn --batch dynamic differs from the defaults"
verify listed "[]" "[]" 0
"${CHECK[@]}" png "$(testset 1000)" 3 "$TMP/listed/img.png" || fail "writing a PNG"
"$NF" predict "$TMP/listed/r.yaml" --onnx "$TMP/listed/fold.onnx" "$TMP/listed/img.png" >"$TMP/listed/pred" 2>"$TMP/log" ||
  { cat "$TMP/log"; fail "listed: predict --onnx"; }
"${CHECK[@]}" predict "listed, predict --onnx, test image 3" "$TMP/listed/pred" "$TMP/listed/logits.npy" 3 \
  --classes-file "$CLASSES" || fail "listed: predict --onnx vs eval's logits"
echo "[${SECONDS}s] listed network: ok"

# The layer arguments the networks above lack (export_common.bash), among them average
# pooling with padding: PyTorch's count_include_pad=True, which OpenCV 4.6 ignores in an
# ONNX AveragePool (Pad + AveragePool without pads runs right).
model edge 1000 "[0.5, 0.4, 0.3]" "[0.2, 0.3, 0.25]" -- "${EDGE[@]}"
export_both edge
verify edge "[0.5, 0.4, 0.3]" "[0.2, 0.3, 0.25]" 0
echo "[${SECONDS}s] edge layers: ok"
echo "export_onnx: ok"
