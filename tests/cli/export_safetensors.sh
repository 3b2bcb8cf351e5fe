# normforge export --format safetensors: ResNet-20 (projection shortcuts) and the two
# listed networks of export_onnx.sh, each trained 3 steps, its BatchNorm affine parameters spread
# and its running statistics recalibrated over 2 batches, export OUTDIR with every
# BatchNorm that directly follows a conv folded into it: the BatchNorm's five tensors
# gone, the conv gaining `<conv>.bias` (unless it had one), every other tensor bitwise
# unchanged, the element count exactly original - folded BatchNorms + added biases;
# OUTDIR/config.yaml has model.folded: true; `eval OUTDIR/config.yaml --checkpoint OUTDIR
# --logits` gives the original's logits within 1e-5 and the same top-1 on every test
# image; `predict` and `bench` work on OUTDIR.
source "$(dirname "$0")/common.bash"
need_sample
source "$SRC/tests/cli/export_common.bash"
SECONDS=0

# folded NAME EXPECTED-JSON: export, evaluate and check $TMP/NAME/folded.
folded() {
  local name=$1 expect=$2 out="$TMP/$1/folded"
  "$NF" export "$TMP/$name/r.yaml" --checkpoint "$TMP/$name/ckpt" --format safetensors -o "$out" >"$TMP/log" 2>&1 ||
    { cat "$TMP/log"; fail "$name: export --format safetensors"; }
  [ -f "$out/model.safetensors" ] && [ -f "$out/config.yaml" ] || fail "$name: $out lacks model.safetensors or config.yaml: $(ls "$out")"
  "$NF" eval "$out/config.yaml" --checkpoint "$out" --json --logits "$TMP/$name/logits_folded.npy" >"$TMP/$name/eval_folded.json" \
    2>"$TMP/log" || { cat "$TMP/log"; fail "$name: eval of the folded export"; }
  "${CHECK[@]}" folded "$name" --original "$TMP/$name/ckpt" --folded "$out" --config "$out/config.yaml" \
    --expect-folded "$expect" --logits-original "$TMP/$name/logits.npy" --logits-folded "$TMP/$name/logits_folded.npy" ||
    fail "$name: folded safetensors checks"
  # predict on the exported folder, on test image 5 written as a PNG: eval's softmax, as the original's predict.
  "${CHECK[@]}" png "$(cat "$TMP/$name/data")" 5 "$TMP/$name/img.png" || fail "writing a PNG"
  "$NF" predict "$out/config.yaml" --checkpoint "$out" "$TMP/$name/img.png" >"$TMP/$name/pred_folded" 2>"$TMP/log" ||
    { cat "$TMP/log"; fail "$name: predict on the folded export"; }
  "$NF" predict "$TMP/$name/r.yaml" --checkpoint "$TMP/$name/ckpt" "$TMP/$name/img.png" >"$TMP/$name/pred" 2>"$TMP/log" ||
    { cat "$TMP/log"; fail "$name: predict on the original"; }
  "${CHECK[@]}" predict "$name, predict on the folded export, test image 5" "$TMP/$name/pred_folded" \
    "$TMP/$name/logits.npy" 5 --classes-file "$CLASSES" || fail "$name: predict on the folded export vs eval's logits"
  cmp -s <(cut -c1-25 "$TMP/$name/pred") <(cut -c1-25 "$TMP/$name/pred_folded") ||
    fail "$name: predict ranks classes differently on the folded export: $(paste "$TMP/$name/pred" "$TMP/$name/pred_folded")"
  "$NF" bench "$out/config.yaml" --batch 8 --iters 1 --threads 2 --json >"$TMP/log" 2>&1 ||
    { cat "$TMP/log"; fail "$name: bench on the folded export"; }
  tail -1 "$TMP/log" | "$PY" -c "import json, sys; assert json.load(sys.stdin)['eval_images_per_s'] > 0" ||
    fail "$name: bench --json on the folded export: $(tail -1 "$TMP/log")"
}

model r20 1000 "$CIFAR_MEAN" "$CIFAR_STD" model.name=resnet20 model.shortcut=projection
# ResNet-20: conv1/bn1, layerS.B.conv1/bn1 and conv2/bn2, layerS.0.downsample.0/1.
R20_FOLDED=$(st_py "
print(json.dumps({p: p[:-3] + 'conv' + p[-1] if p.endswith(('bn1', 'bn2')) else p[:-1] + '0'
                  for p in sorted(k[:-13] for k in load('$TMP/r20/ckpt/model.safetensors') if k.endswith('.running_mean'))}))")
[ "$(echo "$R20_FOLDED" | grep -o '"' | wc -l)" = 84 ] || fail "ResNet-20 has 21 BatchNorms: $R20_FOLDED"
folded r20 "$R20_FOLDED"
echo "[${SECONDS}s] resnet20: ok"

model listed 1000 "[]" "[]" -- "${LISTED[@]}"
folded listed "$LISTED_FOLDED"
echo "[${SECONDS}s] listed network: ok"
model edge 1000 "[0.5, 0.4, 0.3]" "[0.2, 0.3, 0.25]" -- "${EDGE[@]}"
folded edge "$EDGE_FOLDED"
echo "[${SECONDS}s] edge layers: ok"
echo "export_safetensors: ok"
