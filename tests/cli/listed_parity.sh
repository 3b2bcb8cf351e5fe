# PyTorch parity of listed networks (model.layers) through the command line: three networks
# (BatchNorm after ReLU with dropout, residual blocks with a projection shortcut, an MLP
# with BatchNorm1d) initialized by PyTorch 1.13 for the equivalent nn.Sequential load with
# model.init and strict names; `eval --json` matches PyTorch's test loss within 1e-4
# relative; one SGD step changes every tensor as PyTorch does, to float32's own accuracy.
# The recipes, weights and references come from tests/parity/listed_networks.py.
source "$(dirname "$0")/common.bash"
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] ||
  { echo "SKIP: Fashion-MNIST not in /usr/share/datasets/fashion-mnist"; exit 77; }
"$PY" tests/parity/listed_networks.py "$TMP/ref" || fail "the PyTorch references (tests/parity/listed_networks.py)"

for net in cnn_bn_after_relu resnet_projection mlp_bn1d; do
  R="$TMP/ref/$net"
  # Eval: the recipe with dropout p > 0 (the identity in eval mode), PyTorch's own init.
  "$NF" eval "$R.yaml" --checkpoint "${R}_init.safetensors" --json >"$TMP/$net.json" 2>"$TMP/$net.err" ||
    { cat "$TMP/$net.err" >&2; fail "$net: eval"; }
  # One SGD step on the first training batch, from model.init; the CNN's step recipe has
  # dropout p 0 (masks cannot match between frameworks).
  "$NF" train "${R}_step.yaml" --set trainer.out_dir="$TMP/$net" >"$TMP/$net.log" 2>&1 ||
    { cat "$TMP/$net.log" >&2; fail "$net: train one step"; }
  st_py "
net, R = '$net', '$R'
loss_nf = json.load(open('$TMP/$net.json'))['loss']
ref = np.load(R + '_ref.npz')
loss_pt = float(ref['loss'])
rel = abs(loss_nf - loss_pt) / abs(loss_pt)
print(f'{net}: eval loss normforge {loss_nf:.7f} pytorch {loss_pt:.7f} relative error {rel:.2e}')
assert rel <= 1e-4, f'{net}: eval loss differs from PyTorch by {rel:.2e} relative (> 1e-4)'

init = load(R + '_init.safetensors')
after = load('$TMP/$net/final/model.safetensors')
want = sorted(k[4:] for k in ref.files if k.startswith('f64.'))
assert sorted(after) == want, f'{net}: tensor names differ from PyTorch: only normforge {sorted(set(after) - set(want))}, only PyTorch {sorted(set(want) - set(after))}'
worst, bad = (0.0, ''), []
for k in want:
    a, r64, r32 = after[k], ref['f64.' + k], ref['f32.' + k]
    assert a.shape == r64.shape, f'{net}: {k}: shape {a.shape}, PyTorch {r64.shape}'
    if k.endswith('num_batches_tracked'):
        if int(a) != int(r64): bad.append(f'{k}: {int(a)}, PyTorch {int(r64)}')
        continue
    i64 = init[k].astype(np.float64)
    d64 = r64 - i64
    scale = np.abs(d64).max()
    err = lambda x: np.abs((x.astype(np.float64) - i64) - d64).max() / scale if scale > 0 else np.abs(x.astype(np.float64) - i64).max()
    e_nf, e_32 = err(a), err(r32)
    bound = max(2 * e_32, 1e-4)
    if e_nf / bound > worst[0]: worst = (e_nf / bound, f'{k} (error {e_nf:.2e}, PyTorch float32 {e_32:.2e}, bound {bound:.2e})')
    if e_nf > bound: bad.append(f'{k}: update error {e_nf:.2e} > bound {bound:.2e} (PyTorch float32 {e_32:.2e})')
print(f'{net}: one step: worst error/bound {worst[0]:.3f} at {worst[1]}')
assert not bad, f'{net}: one SGD step differs from PyTorch: ' + '; '.join(bad)
" || fail "$net: parity with PyTorch"
done
echo "listed_parity: ok"
