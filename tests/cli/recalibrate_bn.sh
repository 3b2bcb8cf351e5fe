# normforge recalibrate-bn: (1) the running statistics equal PyTorch's
# torch.optim.swa_utils.update_bn over the same batches (1e-5 relative), num_batches_tracked
# becomes the batch count, every other tensor is bitwise unchanged; (2) on a domain-shifted
# copy of Fashion-MNIST (contrast 0.25x around mid-grey), a checkpoint recalibrated on
# shifted training data scores clearly higher on shifted test data than the original;
# (3) an existing output folder is an error that leaves it untouched.
source "$(dirname "$0")/common.bash"
need_sample
FMNIST=/usr/share/datasets/fashion-mnist
[ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || { echo "SKIP: Fashion-MNIST not at $FMNIST"; exit 77; }

# (1) A listed network on the CIFAR-10 sample, in file order, no augmentation.
recipe "$TMP/net.yaml" threads=2 conv_algorithm=direct data.batch_size=50 data.shuffle=false data.workers=0 -- \
  "- {conv: {out: 8, kernel: 3, padding: 1}}" "- batch_norm" "- relu" "- {max_pool: {kernel: 2}}" \
  "- {conv: {out: 16, kernel: 3, padding: 1}}" "- {batch_norm: {momentum: 0.3}}" "- relu" "- global_avg_pool" \
  "- flatten" "- {linear: {out: 16}}" "- batch_norm" "- relu" "- {linear: {out: classes}}"
"$PY" - "$TMP" "$SAMPLE" <<'PYEOF' || fail "PyTorch reference"
import sys, numpy as np, torch, torch.nn as nn
sys.path.insert(0, "tests/parity")
import nfref
tmp, sample = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16, momentum=0.3), nn.ReLU(),
                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))
for mod in m:
    if isinstance(mod, nn.modules.batchnorm._BatchNorm):  # statistics that recalibration must replace
        mod.running_mean.uniform_(-1, 1); mod.running_var.uniform_(0.5, 2); mod.num_batches_tracked.fill_(7)
        mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.uniform_(-0.5, 0.5)
nfref.save(tmp + "/init.safetensors", m.state_dict())
raw = np.fromfile(sample + "/data_batch_1.bin", np.uint8).reshape(-1, 3073)[:200]
x = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255)
torch.optim.swa_utils.update_bn([x[i:i + 50] for i in range(0, 200, 50)], m)
np.savez(tmp + "/ref.npz", **{k: v.numpy() for k, v in m.state_dict().items()})
PYEOF
"$NF" recalibrate-bn "$TMP/net.yaml" --checkpoint "$TMP/init.safetensors" --batches 4 -o "$TMP/recal" >/dev/null 2>&1 ||
  fail "recalibrate-bn on the listed network"
st_py "
init, out, ref = load('$TMP/init.safetensors'), load('$TMP/recal/model.safetensors'), np.load('$TMP/ref.npz')
assert sorted(out) == sorted(init), 'tensor names changed'
for k in init:
    if 'running_' in k:
        err = np.abs(out[k] - ref[k]).max() / np.abs(ref[k]).max()
        print(f'{k}: relative error vs update_bn {err:.2e}')
        assert err <= 1e-5, f'{k}: {err:.2e} from PyTorch update_bn'
    elif k.endswith('num_batches_tracked'):
        assert int(out[k]) == 4 == int(ref[k]), f'{k}: {int(out[k])}'
    else:
        assert out[k].tobytes() == init[k].tobytes(), k + ' changed'
" || fail "recalibrated statistics vs PyTorch update_bn"

# (3) An existing output folder: exit 1, one line, nothing touched.
before=$(ls -l --time-style=full-iso "$TMP/recal")
expect_error 1 "already exists" -- "$NF" recalibrate-bn "$TMP/net.yaml" --checkpoint "$TMP/init.safetensors" -o "$TMP/recal"
[ "$before" = "$(ls -l --time-style=full-iso "$TMP/recal")" ] || fail "the existing output folder changed"
expect_error 1 "" -- "$NF" recalibrate-bn "$TMP/net.yaml" --checkpoint "$TMP/missing" -o "$TMP/recal2"
[ ! -e "$TMP/recal2" ] || fail "a failed recalibrate-bn left an output folder"

# (2) Domain shift: train on Fashion-MNIST, shift the contrast of a copy, recalibrate on it.
mkdir -p "$TMP/shifted"
"$PY" - "$FMNIST" "$TMP/shifted" <<'PYEOF' || fail "making the shifted Fashion-MNIST copy"
import gzip, sys, numpy as np
src, dst = sys.argv[1], sys.argv[2]
for split, n in (("train", 10000), ("t10k", 10000)):
    img = gzip.open(f"{src}/{split}-images-idx3-ubyte.gz").read()
    lab = gzip.open(f"{src}/{split}-labels-idx1-ubyte.gz").read()
    px = np.frombuffer(img, np.uint8, offset=16)[: n * 784].astype(np.float32)
    shifted = np.round(0.25 * px + 96).astype(np.uint8)  # low contrast, grey background
    head = np.array([2051, n, 28, 28], ">i4").tobytes()
    open(f"{dst}/{split}-images-idx3-ubyte", "wb").write(head + shifted.tobytes())
    open(f"{dst}/{split}-labels-idx1-ubyte", "wb").write(np.array([2049, n], ">i4").tobytes() + lab[8 : 8 + n])
PYEOF
recipe "$TMP/fm.yaml" threads=2 model.in_channels=1 width=16 data.dataset=fashion_mnist data.eval_batch_size=1000 \
  trainer.max_steps=300 trainer.log_every=100 trainer.eval_every=0 trainer.out_dir="$TMP/fm"
"$NF" train "$TMP/fm.yaml" >/dev/null 2>&1 || fail "training the Fashion-MNIST model"
top1() { "$NF" eval "$TMP/fm.yaml" --checkpoint "$1" --set data.root="$TMP/shifted" --json 2>/dev/null |
  "$PY" -c "import json, sys; print(json.load(sys.stdin)['top1'])"; }
"$NF" recalibrate-bn "$TMP/fm.yaml" --checkpoint "$TMP/fm/final" --set data.root="$TMP/shifted" --batches 50 \
  -o "$TMP/fm_recal" >/dev/null 2>&1 || fail "recalibrate-bn on the shifted data"
plain=$(top1 "$TMP/fm/final"); recal=$(top1 "$TMP/fm_recal")
echo "shifted Fashion-MNIST test top-1: original $plain, recalibrated on shifted training data $recal"
"$PY" -c "import sys; sys.exit(0 if $recal >= $plain + 0.10 else 1)" || fail "recalibration did not help on shifted data ($plain -> $recal)"
echo "recalibrate_bn: ok"
