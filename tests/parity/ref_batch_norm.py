"""torch.nn.BatchNorm1d/2d references: 4 training steps with different inputs (output,
input/weight/bias gradients, then running statistics), then one eval-mode step with
the resulting statistics. One file per case: batch_norm_<case>.safetensors with
weight, bias (initial values), x<k>, gy<k>, y<k>, gx<k>, gw<k>, gb<k> for k = 0..3 and
k = "e" (eval), running_mean, running_var, num_batches_tracked (after training)."""
import torch

import nfref

# name: (class, channels, input shape, constructor options); mirrored in test_batch_norm.cpp.
CASES = {
    "bn2d_m01": (torch.nn.BatchNorm2d, 4, (3, 4, 5, 3), dict(momentum=0.1)),
    "bn2d_m03": (torch.nn.BatchNorm2d, 4, (2, 4, 7, 6), dict(momentum=0.3)),
    "bn2d_cum": (torch.nn.BatchNorm2d, 4, (3, 4, 5, 3), dict(momentum=None)),
    "bn2d_16ch": (torch.nn.BatchNorm2d, 16, (8, 16, 8, 8), dict(momentum=0.1)),
    "bn2d_noaffine_eps": (torch.nn.BatchNorm2d, 3, (4, 3, 6, 5), dict(momentum=0.1, affine=False, eps=1e-3)),
    "bn2d_untracked": (torch.nn.BatchNorm2d, 4, (3, 4, 5, 3), dict(track_running_stats=False)),
    "bn1d_2d_m01": (torch.nn.BatchNorm1d, 6, (5, 6), dict(momentum=0.1)),
    "bn1d_2d_cum": (torch.nn.BatchNorm1d, 6, (4, 6), dict(momentum=None)),
    "bn1d_3d_m03": (torch.nn.BatchNorm1d, 6, (3, 6, 7), dict(momentum=0.3)),
    "bn1d_3d_cum_noaffine": (torch.nn.BatchNorm1d, 5, (3, 5, 7), dict(momentum=None, affine=False)),
}


def batch(shape, channels):
    """Inputs with a per-channel offset and scale, so the statistics matter."""
    view = (1, channels) + (1,) * (len(shape) - 2)
    return torch.randn(shape) * (0.5 + 2 * torch.rand(view)) + 3 * torch.randn(view)


def step(bn, x, gy, k, out):
    x = x.clone().requires_grad_(True)
    bn.zero_grad()
    y = bn(x)
    y.backward(gy)
    out.update({f"x{k}": x, f"gy{k}": gy, f"y{k}": y, f"gx{k}": x.grad})
    if bn.affine:
        out.update({f"gw{k}": bn.weight.grad.clone(), f"gb{k}": bn.bias.grad.clone()})


def make(out_dir):
    for name, (cls, channels, shape, opts) in CASES.items():
        bn = cls(channels, **opts)
        out = {}
        if bn.affine:
            with torch.no_grad():
                bn.weight.copy_(1 + 0.5 * torch.randn(channels))
                bn.bias.copy_(0.5 * torch.randn(channels))
            out.update({"weight": bn.weight.clone(), "bias": bn.bias.clone()})
        bn.train()
        for k in range(4):
            step(bn, batch(shape, channels), torch.randn(shape), k, out)
        if bn.track_running_stats:
            out.update({"running_mean": bn.running_mean.clone(), "running_var": bn.running_var.clone(),
                        "num_batches_tracked": bn.num_batches_tracked.clone()})
        bn.eval()
        step(bn, batch(shape, channels), torch.randn(shape), "e", out)
        nfref.save(out_dir / f"batch_norm_{name}.safetensors", out)
