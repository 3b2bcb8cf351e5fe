# Fine-tuning from a checkpoint with each finetune.bn mode: what must and must not change.
source "$(dirname "$0")/common.bash"
need_sample
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/base" >/dev/null 2>&1
INIT="$TMP/base/final"
for mode in frozen frozen_stats trainable; do
  "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/$mode" --set model.init="$INIT" \
    --set finetune.bn=$mode --set trainer.max_steps=3 >/dev/null 2>&1 || fail "fine-tune with bn=$mode failed"
done
st_py "
a = load('$INIT/model.safetensors')
def changed(mode, suffix):
    b = load('$TMP/' + mode + '/final/model.safetensors')
    is_bn = lambda k: '.bn' in '.' + k or '.downsample.1.' in k  # every BatchNorm of a ResNet
    keys = [k for k in a if is_bn(k) and k.endswith(suffix)]
    assert keys, suffix
    return [k for k in keys if a[k].tobytes() != b[k].tobytes()], len(keys)
def check(mode, suffix, want_all_changed):
    ch, n = changed(mode, suffix)
    ok = (len(ch) == n) if want_all_changed else (len(ch) == 0)
    if not ok: sys.exit(f'{mode}: {suffix}: {len(ch)} of {n} changed')
for s in ['running_mean', 'running_var', 'num_batches_tracked', 'weight', 'bias']: check('frozen', s, False)
for s in ['running_mean', 'running_var', 'num_batches_tracked']: check('frozen_stats', s, False)
for s in ['weight', 'bias']: check('frozen_stats', s, True)
for s in ['running_mean', 'running_var', 'num_batches_tracked', 'weight', 'bias']: check('trainable', s, True)
b = load('$TMP/frozen/final/model.safetensors')
assert a['conv1.weight'].tobytes() != b['conv1.weight'].tobytes(), 'convolutions must still learn with frozen BN'
" || fail "finetune.bn semantics"

# finetune.freeze stops the matching parameters; reset_head loads all but fc into a new head size.
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/freeze" --set model.init="$INIT" \
  --set 'finetune.freeze=["conv1.*", "layer1.*"]' --set trainer.max_steps=2 >/dev/null 2>&1
st_py "
a = load('$INIT/model.safetensors'); b = load('$TMP/freeze/final/model.safetensors')
assert a['conv1.weight'].tobytes() == b['conv1.weight'].tobytes()
assert a['layer1.0.conv1.weight'].tobytes() == b['layer1.0.conv1.weight'].tobytes()
assert a['layer2.0.conv1.weight'].tobytes() != b['layer2.0.conv1.weight'].tobytes()
" || fail "finetune.freeze"
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/head" --set model.init="$INIT" --set model.num_classes=20 \
  --set finetune.reset_head=true --set trainer.max_steps=2 >/dev/null 2>&1 || fail "reset_head to 20 classes"
expect_error 1 "fc.weight.*shape|reset_head" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/nohead" \
  --set model.init="$INIT" --set model.num_classes=20
# BN recalibration: statistics recomputed over 4 batches (cumulative average) before
# training; with BN frozen they then stay, and gamma/beta never change.
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/recal" --set model.init="$INIT" --set finetune.bn=frozen \
  --set finetune.recalibrate_bn_batches=4 --set trainer.max_steps=2 >"$TMP/log" 2>&1 || fail "recalibration run"
grep -q "recalibrated BatchNorm statistics over 4 batches" "$TMP/log" || fail "no recalibration message"
st_py "
a = load('$INIT/model.safetensors'); b = load('$TMP/recal/final/model.safetensors')
for k in a:
    if k.endswith('num_batches_tracked'): assert int(b[k]) == 4, (k, b[k])
    if k.endswith('running_mean'): assert a[k].tobytes() != b[k].tobytes(), k
    if ('.bn' in '.' + k or '.downsample.1.' in k) and (k.endswith('weight') or k.endswith('bias')):
        assert a[k].tobytes() == b[k].tobytes(), k
" || fail "BN recalibration"
echo "finetune: ok"
