"""Ghost batch normalization (BatchNorm with virtual_batch = V) references, built from
F.batch_norm: the batch is split along N into consecutive groups of V samples (the last
one smaller; a last group of one sample merged into the one before), each group is
normalized with F.batch_norm(training=True) and no running statistics, and the running
statistics are updated once per step, in float64 from the float32 group statistics:
  r_mean = (1 - f) * r_mean + f * mean over groups of the group means
  r_var  = (1 - f) * r_var  + f * mean over groups of the unbiased group variances
f = momentum, or 1 / num_batches_tracked (cumulative) after num_batches_tracked += 1.
2 training steps, then an eval step (ordinary F.batch_norm with the running statistics).
One file per case: ghost_batch_norm_<case>.safetensors with weight, bias (initial
values), x<k>, gy<k>, y<k>, gx<k>, gw<k>, gb<k> for k = 0, 1 and "e", and
running_mean<k>, running_var<k>, num_batches_tracked<k> after training step k."""
import torch
import torch.nn.functional as F

import nfref

EPS = 1e-5

# name: (channels, input shape, V, momentum, affine); mirrored in test_ghost_batch_norm.cpp.
CASES = {
    "bn2d_n8_v3": (4, (8, 4, 5, 3), 3, 0.1, True),           # groups 3, 3, 2
    "bn2d_n7_v3_cum": (4, (7, 4, 4, 3), 3, None, True),      # 3, 4 (a last group of one merged)
    "bn2d_32ch_n10_v4": (32, (10, 32, 4, 4), 4, 0.1, True),  # 4, 4, 2; the C++ test also runs it blocked
    "bn1d_n9_v4": (6, (9, 6), 4, 0.3, True),                 # [N, C]: 4, 5
    "bn1d_3d_n6_v2_noaffine": (5, (6, 5, 7), 2, 0.1, False),  # 2, 2, 2
}


def groups(n, v):
    """(start, size) of each group along N."""
    out = [(s, min(v, n - s)) for s in range(0, n, v)]
    if len(out) > 1 and out[-1][1] == 1:
        out[-2] = (out[-2][0], out[-2][1] + 1)
        out.pop()
    return out


def ghost_forward(x, weight, bias, v):
    """y of the composition, and the group means and unbiased variances [G, C] (float64)."""
    dims = [0] + list(range(2, x.dim()))
    ys, means, vars_ = [], [], []
    for start, size in groups(x.shape[0], v):
        xg = x[start:start + size]
        ys.append(F.batch_norm(xg, None, None, weight, bias, training=True, eps=EPS))
        xd = xg.detach().double()
        means.append(xd.mean(dim=dims))
        vars_.append(xd.var(dim=dims, unbiased=True))
    return torch.cat(ys), torch.stack(means), torch.stack(vars_)


def batch(shape, channels):
    """Inputs with a per-channel offset and scale, so the statistics matter."""
    view = (1, channels) + (1,) * (len(shape) - 2)
    return torch.randn(shape) * (0.5 + 2 * torch.rand(view)) + 3 * torch.randn(view)


def make(out_dir):
    for name, (channels, shape, v, momentum, affine) in CASES.items():
        weight = (1 + 0.5 * torch.randn(channels)).requires_grad_(True) if affine else None
        bias = (0.5 * torch.randn(channels)).requires_grad_(True) if affine else None
        out = {"weight": weight.detach().clone(), "bias": bias.detach().clone()} if affine else {}
        r_mean = torch.zeros(channels, dtype=torch.float64)
        r_var = torch.ones(channels, dtype=torch.float64)
        count = 0
        for k in ["0", "1", "e"]:
            x = batch(shape, channels).requires_grad_(True)
            gy = torch.randn(shape)
            if k == "e":
                y = F.batch_norm(x, r_mean.float(), r_var.float(), weight, bias, training=False, eps=EPS)
            else:
                y, means, vars_ = ghost_forward(x, weight, bias, v)
                count += 1
                f = momentum if momentum is not None else 1.0 / count
                r_mean = ((1 - f) * r_mean + f * means.mean(0)).float().double()
                r_var = ((1 - f) * r_var + f * vars_.mean(0)).float().double()
                out.update({f"running_mean{k}": r_mean.float(), f"running_var{k}": r_var.float(),
                            f"num_batches_tracked{k}": torch.tensor(count, dtype=torch.int64)})
            if affine:
                weight.grad = bias.grad = None
            y.backward(gy)
            out.update({f"x{k}": x.detach(), f"gy{k}": gy, f"y{k}": y.detach(), f"gx{k}": x.grad})
            if affine:
                out.update({f"gw{k}": weight.grad.clone(), f"gb{k}": bias.grad.clone()})
        nfref.save(out_dir / f"ghost_batch_norm_{name}.safetensors", out)
