"""PyTorch references for tests/cli/listed_parity.sh: python3 listed_networks.py OUT_DIR.

Three networks written as `model.layers` lists (issue 12) are built here a second time as
the PyTorch nn.Sequential they must equal, from the same Python description, so the YAML
and the torch module cannot drift apart. For each network OUT_DIR receives
  NAME.yaml               the recipe of the eval check (Fashion-MNIST's 10000 test images)
  NAME_step.yaml          the recipe of the one-step check (shuffle off, trainer.max_steps 1)
  NAME_init.safetensors   PyTorch's own init (seeded) with random BatchNorm statistics and affine
  NAME_ref.npz            loss: eval cross-entropy over the 10000 test images; f64.<tensor> /
                          f32.<tensor>: the state dict after one SGD step on the first training
                          batch, computed in float64 / float32
  first_batch/            Fashion-MNIST's first 64 training and first 64 test images (IDX): the
                          step recipes' data.root, so that training reads one batch and its
                          end-of-training evaluation is short; the batch is the file's first.
Not a ref_*.py, so tests/parity/run_all.py (which runs ref_*.py at build time) skips it:
it reads the Fashion-MNIST files, which the build does not need."""
import gzip
import pathlib
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "scripts" / "bench"))
import nfref  # noqa: E402
from torch_models import sequential  # noqa: E402

DATA = pathlib.Path("/usr/share/datasets/fashion-mnist")
NUM_CLASSES = 10
BATCH = 64
SGD = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)

# A layer is a name or (name, {args}); a residual is ("residual", {"body": [...], "shortcut": [...]}).
# The layer lists, exactly as they go into the recipes.
CNN_BN_AFTER_RELU = [  # BatchNorm after ReLU, dropout after the pool
    ("conv", {"out": 16, "kernel": 3, "padding": 1}),
    "relu",
    "batch_norm",
    ("max_pool", {"kernel": 2}),
    ("dropout", {"p": 0.25}),
    ("conv", {"out": 32, "kernel": 3, "padding": 1}),
    "relu",
    ("batch_norm", {"momentum": 0.3, "eps": 1e-3}),
    "global_avg_pool",
    "flatten",
    ("linear", {"out": "classes"}),
]
RESNET_PROJECTION = [
    ("conv", {"out": 16, "kernel": 3, "padding": 1, "bias": False}),
    "batch_norm",
    "relu",
    ("residual", {
        "body": [
            ("conv", {"out": 32, "kernel": 3, "stride": 2, "padding": 1, "bias": False}),
            "batch_norm",
            "relu",
            ("conv", {"out": 32, "kernel": 3, "padding": 1, "bias": False}),
            "batch_norm",
        ],
        "shortcut": [
            ("conv", {"out": 32, "kernel": 1, "stride": 2, "bias": False}),
            "batch_norm",
        ],
    }),
    "relu",
    ("residual", {
        "body": [
            ("conv", {"out": 32, "kernel": 3, "padding": 1, "bias": False}),
            "batch_norm",
            "relu",
            ("conv", {"out": 32, "kernel": 3, "padding": 1, "bias": False}),
            "batch_norm",
        ],
    }),
    "relu",
    "global_avg_pool",
    "flatten",
    ("linear", {"out": "classes"}),
]
MLP_BN1D = [
    "flatten",
    ("linear", {"out": 128}),
    "batch_norm",
    "relu",
    ("linear", {"out": 64}),
    ("batch_norm", {"momentum": 0.2, "eps": 1e-4}),
    "relu",
    ("linear", {"out": "classes"}),
]


def without_dropout(layers):
    return [("dropout", {"p": 0.0}) if isinstance(l, tuple) and l[0] == "dropout" else l for l in layers]


# name -> (layers for the eval check, layers for the one-step check). Dropout masks cannot
# match between two frameworks, so the one-step recipe of the CNN has dropout p 0.0; the
# eval check (dropout is the identity in eval mode) keeps p 0.25.
NETWORKS = {
    "cnn_bn_after_relu": (CNN_BN_AFTER_RELU, without_dropout(CNN_BN_AFTER_RELU)),
    "resnet_projection": (RESNET_PROJECTION, RESNET_PROJECTION),
    "mlp_bn1d": (MLP_BN1D, MLP_BN1D),
}


def as_entries(layers):
    """The layer list in the form YAML loads it ("relu", {"conv": {...}}), for torch_models.sequential."""
    return [l if isinstance(l, str) else
            {l[0]: {k: as_entries(v) if k in ("body", "shortcut") else v for k, v in l[1].items()}} for l in layers]


def build(layers, shape):
    """(nn.Sequential, output shape) for a layer list; shape: the input's without the batch."""
    return sequential(as_entries(layers), shape, NUM_CLASSES)


def yaml_layers(layers, indent):
    """The list in YAML: simple layers in flow style, residuals in block style."""
    pad = " " * indent
    lines = []
    for layer in layers:
        if isinstance(layer, str):
            lines.append(f"{pad}- {layer}")
            continue
        name, a = layer
        if name == "residual":
            lines.append(f"{pad}- residual:")
            for part in ("body", "shortcut"):
                if part in a:
                    lines.append(f"{pad}    {part}:")
                    lines += yaml_layers(a[part], indent + 8)
            continue
        args = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in a.items())
        lines.append(f"{pad}- {{{name}: {{{args}}}}}")
    return lines


def recipe(layers, init, comment, root=DATA):
    return "\n".join([
        f"# {comment}",
        "# Written by tests/parity/listed_networks.py for tests/cli/listed_parity.sh.",
        "seed: 0",
        "threads: 2",
        "conv_algorithm: direct",
        "model:",
        "  in_channels: 1",
        f"  num_classes: {NUM_CLASSES}",
        f"  init: {init}",
        "  layers:",
        *yaml_layers(layers, 4),
        "data:",
        "  dataset: fashion_mnist",
        f"  root: {root}",
        f"  batch_size: {BATCH}",
        "  eval_batch_size: 500",
        "  workers: 0",
        "  shuffle: false",
        "optimizer: {name: sgd, lr: %g, momentum: %g, nesterov: true, weight_decay: %g}"
        % (SGD["lr"], SGD["momentum"], SGD["weight_decay"]),
        "schedule: {name: constant}",
        "trainer: {epochs: 1, max_steps: 1, eval_every: 0, checkpoint_every: 0, log_every: 1}",
        "",
    ])


def idx(name):
    with gzip.open(DATA / name, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(name):  # uint8 -> float32 / 255, as normforge (and torchvision's ToTensor)
    return torch.from_numpy(idx(name).astype(np.float32) / np.float32(255)).unsqueeze(1)


def write_idx(path, array):
    """An uncompressed IDX file of uint8 (type 0x08)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def randomize_bn(model, gen):
    """Non-trivial BatchNorm state so eval is not the identity normalization."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
            m.weight.data.copy_(0.5 + torch.rand(c, generator=gen))
            m.bias.data.copy_(0.2 * torch.randn(c, generator=gen))
            m.num_batches_tracked.fill_(7)


def sharpen(model, x):
    """Rescales the last linear layer so the eval logits, centred per class over the images,
    have standard deviation 3: from PyTorch's init they are nearly uniform (loss ~ ln 10)
    and mostly a per-class constant, which hides errors in the layers below; with confident,
    input-driven logits a 1e-3 change in a normalization moves the loss by ~1e-4 or more."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        z = model.eval()(x)
        mean = z.mean(0)
        f = 3 / (z - mean).std().item()
        last.weight.mul_(f)
        last.bias.sub_(mean).mul_(f)


def eval_loss(model, x, y):
    """Mean cross-entropy in eval mode, the model in float32 (channels-last: PyTorch's fast
    CPU path), the sum in float64. Float64 throughout costs minutes on 2 cores and agrees
    to 7 digits (measured: 2.317086, 2.323644, 2.325134 both ways), far inside the 1e-4."""
    model = model.float().eval().to(memory_format=torch.channels_last)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), 250):
            logits = model(x[i:i + 250].contiguous(memory_format=torch.channels_last))
            total += F.cross_entropy(logits.double(), y[i:i + 250], reduction="sum").item()
    return total / len(x)


def one_step(model, x, y, dtype):
    model = model.to(dtype).train()
    opt = torch.optim.SGD(model.parameters(), **SGD)
    opt.zero_grad()
    F.cross_entropy(model(x.to(dtype)), y).backward()
    opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def make(out_dir):
    out = pathlib.Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    x_test, y_test = images("t10k-images-idx3-ubyte.gz"), torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    x_train = images("train-images-idx3-ubyte.gz")[:BATCH]
    y_train = torch.from_numpy(idx("train-labels-idx1-ubyte.gz")[:BATCH].astype(np.int64))
    first = out / "first_batch"
    first.mkdir(exist_ok=True)
    for f in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"):
        write_idx(first / f"{f}-ubyte", idx(f"{f}-ubyte.gz")[:BATCH])
    for i, (name, (layers_eval, layers_step)) in enumerate(NETWORKS.items()):
        torch.manual_seed(100 + i)
        model, shape = build(layers_eval, (1, 28, 28))
        assert shape == (NUM_CLASSES,), shape
        gen = torch.Generator().manual_seed(200 + i)
        with torch.no_grad():
            randomize_bn(model, gen)
        sharpen(model, x_test[:500])
        init = {k: v.detach().clone() for k, v in model.state_dict().items()}
        nfref.save(out / f"{name}_init.safetensors", init)
        init_path = out / f"{name}_init.safetensors"
        (out / f"{name}.yaml").write_text(recipe(layers_eval, init_path, f"{name}: the eval check"))
        (out / f"{name}_step.yaml").write_text(recipe(
            layers_step, init_path,
            f"{name}: the one-step check" + (" (dropout p 0.0: masks cannot match between frameworks)"
                                               if layers_step is not layers_eval else ""), first))
        ref = {"loss": np.float64(eval_loss(build_like(layers_eval, init, torch.float32), x_test, y_test))}
        for tag, dtype in (("f64", torch.float64), ("f32", torch.float32)):
            after = one_step(build_like(layers_step, init, dtype), x_train, y_train, dtype)
            for k, v in after.items():
                ref[f"{tag}.{k}"] = v.numpy()
        np.savez(out / f"{name}_ref.npz", **ref)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n_params} parameters, torch eval loss {ref['loss']:.6f}")


def build_like(layers, init, dtype):
    model, _ = build(layers, (1, 28, 28))
    model.load_state_dict(init, strict=True)
    return model.to(dtype)


if __name__ == "__main__":
    nfref.setup()
    make(sys.argv[1])
