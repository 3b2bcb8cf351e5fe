"""PyTorch references for framework/ops/pool: per case x, y = pool(x), a random upstream
gradient gy and gx = d(sum(y * gy))/dx, plus `args` ([kernel, stride, padding] for
max/avg, [out_h, out_w] for adaptive). Odd, non-square sizes; batch 1, 2, 3."""
import torch
import torch.nn.functional as F

import nfref

CASES = {
    "pool_max_k3s2p1": ((3, 4, 7, 5), "max", (3, 2, 1)),
    "pool_max_k2s2p0": ((2, 3, 8, 8), "max", (2, 2, 0)),
    "pool_max_k3s1p0": ((1, 2, 6, 9), "max", (3, 1, 0)),
    "pool_avg_k3s2p1": ((3, 4, 7, 5), "avg", (3, 2, 1)),
    "pool_avg_k2s2p0": ((2, 3, 8, 8), "avg", (2, 2, 0)),
    "pool_avg_k3s1p1": ((1, 2, 6, 9), "avg", (3, 1, 1)),
    "pool_adaptive_1x1": ((3, 16, 8, 8), "adaptive", (1, 1)),
    "pool_adaptive_4x3": ((2, 3, 8, 6), "adaptive", (4, 3)),
    "pool_adaptive_3x2": ((3, 4, 5, 7), "adaptive", (3, 2)),
    "pool_adaptive_4x5": ((1, 2, 3, 4), "adaptive", (4, 5)),
}


def pool(x, kind, args):
    if kind == "max":
        return F.max_pool2d(x, args[0], args[1], args[2])
    if kind == "avg":
        return F.avg_pool2d(x, args[0], args[1], args[2])
    return F.adaptive_avg_pool2d(x, args)


def make(out):
    for name, (shape, kind, args) in CASES.items():
        x = torch.randn(shape, requires_grad=True)
        y = pool(x, kind, args)
        gy = torch.randn(y.shape)
        y.backward(gy)
        nfref.save(out / f"{name}.safetensors", {
            "x": x, "y": y, "gy": gy, "gx": x.grad, "args": torch.tensor(args, dtype=torch.int64)})
