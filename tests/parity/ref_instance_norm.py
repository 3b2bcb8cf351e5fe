"""torch.nn.InstanceNorm1d/2d references. One file per case, instance_norm_<case>.safetensors:
a training step on x1 (gy1 the output's gradient): y1, gx1 (and gw1, gb1 when affine);
with running statistics also a second training forward (no gradient) on x2, the statistics after
each (rm1, rv1, rm2, rv2), and an evaluation step on xe: ye, gxe (gwe, gbe), which
normalizes with rm2, rv2. weight/bias (random, not the defaults) when affine.
The C++ test (tests/unit/test_instance_norm.cpp) mirrors CASES."""
import torch

import nfref

# name: (module, input shape, input offset); mirrored in test_instance_norm.cpp.
CASES = {
    "plain": (lambda: torch.nn.InstanceNorm2d(4), (3, 4, 5, 6), 0.0),
    "affine": (lambda: torch.nn.InstanceNorm2d(4, affine=True), (3, 4, 5, 6), 0.0),
    "track": (lambda: torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True, momentum=0.3),
              (3, 4, 5, 6), 0.0),
    "track_noaffine_eps": (lambda: torch.nn.InstanceNorm2d(6, eps=1e-3, track_running_stats=True), (2, 6, 4, 3), 0.0),
    "offset": (lambda: torch.nn.InstanceNorm2d(3, affine=True), (2, 3, 7, 5), 100.0),
    "16ch": (lambda: torch.nn.InstanceNorm2d(16, affine=True, track_running_stats=True), (2, 16, 3, 5), 0.0),
    "1d": (lambda: torch.nn.InstanceNorm1d(5, affine=True, track_running_stats=True), (3, 5, 7), 0.0),
}


def step(m, x, tag, out):
    """One forward and backward of m on x; records y, gx (gw, gb) under the tag."""
    x = x.clone().requires_grad_(True)
    gy = torch.randn(x.shape)
    if m.affine:
        m.weight.grad = m.bias.grad = None
    y = m(x)
    y.backward(gy)
    out.update({"x" + tag: x, "gy" + tag: gy, "y" + tag: y, "gx" + tag: x.grad})
    if m.affine:
        out.update({"gw" + tag: m.weight.grad.clone(), "gb" + tag: m.bias.grad.clone()})


def make(out_dir):
    for name, (build, shape, offset) in CASES.items():
        m = build()
        out = {}
        if m.affine:
            with torch.no_grad():
                m.weight.copy_(1 + 0.5 * torch.randn(m.weight.shape))
                m.bias.copy_(0.5 * torch.randn(m.bias.shape))
            out.update({"weight": m.weight.clone(), "bias": m.bias.clone()})
        step(m, torch.randn(shape) * 1.5 + offset, "1", out)
        if m.track_running_stats:
            out.update({"rm1": m.running_mean.clone(), "rv1": m.running_var.clone()})
            x2 = torch.randn(shape) * 0.7 + 0.3
            with torch.no_grad():
                m(x2)
            out.update({"x2": x2, "rm2": m.running_mean.clone(), "rv2": m.running_var.clone(),
                        "nbt": m.num_batches_tracked.clone()})
            m.eval()
            step(m, torch.randn(shape), "e", out)
        nfref.save(out_dir / f"instance_norm_{name}.safetensors", out)
