# model.layers through the command line: a network using every layer type trains one
# step; each kind of bad network exits 1 with one line naming the file, line and column;
# a listed network resumes bitwise; finetune.bn acts on BatchNorm only.
source "$(dirname "$0")/common.bash"
FMNIST=/usr/share/datasets/fashion-mnist
[ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || { echo "SKIP: Fashion-MNIST not at $FMNIST"; exit 77; }

# listed NAME DATA LAYERS...: writes $TMP/NAME.yaml with the layer lines (YAML list items);
# DATA is "fm" (Fashion-MNIST) or "cifar" (the CIFAR-10 sample).
listed() {
  local name=$1 data=(data.dataset=fashion_mnist data.batch_size=16 data.eval_batch_size=1000 data.workers=0)
  [ "$2" = fm ] || data=(data.batch_size=100 data.eval_batch_size=500 data.workers=2)
  shift 2
  recipe "$TMP/$name.yaml" threads=2 model.in_channels="${IN:-1}" "${data[@]}" trainer.max_steps=1 \
    trainer.out_dir="$TMP/run_$name" -- "$@"
}

# Every layer type, ghost BN, BN1d, GroupNorm/LayerNorm on images and features, repeat, a named layer.
listed all fm \
  "- {conv: {out: 8, kernel: 3, padding: 1, bias: false}}" "- batch_norm" "- relu" "- {max_pool: {kernel: 2}}" \
  "- {dropout: {p: 0.1}}" \
  "- residual: {body: [{conv: {out: 16, kernel: 3, stride: 2, padding: 1}}, {batch_norm: {virtual_batch: 4}}, relu, {conv: {out: 16, kernel: 3, padding: 1, dilation: 1, groups: 2}}, batch_norm], shortcut: [{conv: {out: 16, kernel: 1, stride: 2}}, batch_norm]}" \
  "- relu" "- {repeat: {times: 2, layers: [{group_norm: {groups: 4}}, relu]}}" "- layer_norm" \
  "- {avg_pool: {kernel: 2, stride: 1}}" "- global_avg_pool" "- flatten" "- {linear: {out: 32}}" \
  "- {batch_norm: {momentum: null}}" "- relu" "- layer_norm" "- {linear: {out: classes}, name: head}"
"$NF" train "$TMP/all.yaml" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "the every-layer network did not train"; }
st_py "
w = load('$TMP/run_all/final/model.safetensors')
for k in ['0.weight', '1.running_mean', '5.body.1.running_var', '5.shortcut.0.bias', '5.body.3.weight', '7.weight',
          '9.weight', '11.bias', '15.weight', '16.num_batches_tracked', '18.weight', 'head.weight']:
    assert k in w, k
assert w['5.body.3.weight'].shape == (16, 8, 3, 3), w['5.body.3.weight'].shape
assert int(w['16.num_batches_tracked']) == 1
" || fail "state-dict names of the every-layer network"

# Bad networks: exit 1, one line, FILE:LINE:COL and both shapes.
bad() {  # bad PATTERN LAYERS...
  local pattern=$1; shift
  listed bad fm "$@"
  expect_error 1 "bad.yaml:[0-9]+:[0-9]+: $pattern" -- "$NF" train "$TMP/bad.yaml"
}
bad "model.layers\[1\] \(residual\): its body gives \[N, 16, 28, 28\] but its shortcut gives \[N, 8, 28, 28\]" \
  "- {conv: {out: 8, kernel: 3, padding: 1}}" "- {residual: {body: [{conv: {out: 16, kernel: 3, padding: 1}}]}}"
bad "model.layers\[1\] \(group_norm\): 4 groups do not divide the 6 channels of \[N, 6, 26, 26\]" \
  "- {conv: {out: 6, kernel: 3}}" "- {group_norm: {groups: 4}}"
bad "model.layers\[1\] \(linear\): takes \[N, F\], got \[N, 6, 26, 26\]" "- {conv: {out: 6, kernel: 3}}" "- {linear: {out: 10}}"
bad "model.layers\[0\] \(max_pool\): its 30x30 window is larger than its input \[N, 1, 28, 28\]" "- {max_pool: {kernel: 30}}"
bad "model.layers\[1\] \(linear\): the network ends in \[N, 5\]" "- flatten" "- {linear: {out: 5}}"
bad "model.layers\[0\]: unknown layer 'batchnorm' \(did you mean 'batch_norm'\?\)" "- batchnorm"
bad "unknown key 'model.layers\[0\].conv.kernal' \(did you mean 'model.layers\[0\].conv.kernel'\?\)" "- {conv: {out: 6, kernal: 3}}"
bad "model.layers\[0\].conv.out: required" "- {conv: {kernel: 3}}"
bad "model.layers\[0\].dropout.p: 1.5 is out of range" "- {dropout: {p: 1.5}}"
bad "model.layers\[0\].batch_norm.virtual_batch: 1 is out of range" "- {batch_norm: {virtual_batch: 1}}"
bad "model.layers\[1\] \(conv\): the name 'a' is already taken" "- {conv: {out: 6, kernel: 3}, name: a}" "- {conv: {out: 6, kernel: 3}, name: a}"
bad "model.layers\[0\].repeat.times: required" "- {repeat: {layers: [relu]}}"
listed both fm "- relu"
sed -i 's/^model:$/model:\n  name: resnet8/' "$TMP/both.yaml"
expect_error 1 "both.yaml:[0-9]+:[0-9]+: model.name: give model.name .* or model.layers" -- "$NF" train "$TMP/both.yaml"
expect_error 1 "set model.dropout=0.2: model.dropout: belongs to the built-in models" -- "$NF" train "$TMP/bad.yaml" --set model.dropout=0.2

# Resume: a listed network with dropout and ghost BN, interrupted after epoch 1 of 3,
# ends bitwise where the uninterrupted run ends (CIFAR-10 sample: 2,000 images).
need_sample
IN=3 listed res cifar \
  "- {conv: {out: 8, kernel: 3, padding: 1, bias: false}}" "- {batch_norm: {virtual_batch: 25}}" "- relu" \
  "- {residual: {body: [{conv: {out: 8, kernel: 3, padding: 1}}, {group_norm: {groups: 2}}, relu], shortcut: []}}" \
  "- {dropout: {p: 0.3}}" "- global_avg_pool" "- flatten" "- {linear: {out: classes}}"
args=(--set trainer.max_steps=null --set trainer.epochs=3)
"$NF" train "$TMP/res.yaml" "${args[@]}" --set trainer.out_dir="$TMP/full" >/dev/null 2>&1 || fail "listed resume: full run"
cp -r "$TMP/full" "$TMP/cut"
rm -rf "$TMP/cut/checkpoints/epoch_0002" "$TMP/cut/checkpoints/epoch_0003" "$TMP/cut/checkpoints/best" "$TMP/cut/final"
"$NF" train "$TMP/res.yaml" "${args[@]}" --set trainer.out_dir="$TMP/cut" --resume auto >"$TMP/log" 2>&1
grep -q "resumed from .*epoch_0001" "$TMP/log" || fail "listed network did not resume: $(cat "$TMP/log")"
cmp -s "$TMP/full/final/model.safetensors" "$TMP/cut/final/model.safetensors" || fail "listed network: resumed weights differ"
cmp -s "$TMP/full/final/trainer_state.safetensors" "$TMP/cut/final/trainer_state.safetensors" || fail "listed network: optimizer state differs"

# finetune.bn: frozen stops BatchNorm (statistics and affine) but not GroupNorm's affine.
"$NF" train "$TMP/res.yaml" --set trainer.out_dir="$TMP/frozen" --set model.init="$TMP/full/final" \
  --set finetune.bn=frozen --set trainer.max_steps=2 >/dev/null 2>&1 || fail "listed fine-tune with bn=frozen"
st_py "
a = load('$TMP/full/final/model.safetensors'); b = load('$TMP/frozen/final/model.safetensors')
for k in ['1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']:
    assert a[k].tobytes() == b[k].tobytes(), 'BatchNorm ' + k + ' changed with finetune.bn=frozen'
for k in ['3.body.1.weight', '3.body.1.bias', '0.weight']:
    assert a[k].tobytes() != b[k].tobytes(), k + ' should still learn'
" || fail "finetune.bn=frozen on a listed network"
# finetune.reset_head re-initializes a listed network's last linear layer (here "7.").
"$NF" train "$TMP/res.yaml" --set trainer.out_dir="$TMP/head" --set model.init="$TMP/full/final" --set model.num_classes=20 \
  --set finetune.reset_head=true --set trainer.max_steps=1 >/dev/null 2>&1 || fail "reset_head on a listed network"
expect_error 1 "7.(weight|bias).*shape.*reset_head: true to re-initialize 7" -- "$NF" train "$TMP/res.yaml" \
  --set trainer.out_dir="$TMP/nohead" --set model.init="$TMP/full/final" --set model.num_classes=20
echo "listed_networks: ok"
