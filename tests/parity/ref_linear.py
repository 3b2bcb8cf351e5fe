"""linear references: forward output and input/weight/bias gradients of F.linear,
computed in float64 from float32 inputs: linear_NAME.safetensors with x, w, [b], gy,
y, gx, gw, [gb]."""
import torch
import torch.nn.functional as F

import nfref

# name: (N, in_features, out_features, bias)
CONFIGS = {"basic": (4, 64, 10, True), "single": (1, 7, 3, True), "nobias": (5, 33, 17, False)}


def make(out):
    for name, (n, fin, fout, bias) in CONFIGS.items():
        bound = fin ** -0.5
        x = torch.randn(n, fin)
        w = torch.empty(fout, fin).uniform_(-bound, bound)
        b = torch.empty(fout).uniform_(-bound, bound) if bias else None
        xd = x.double().requires_grad_()
        wd = w.double().requires_grad_()
        bd = b.double().requires_grad_() if bias else None
        y = F.linear(xd, wd, bd)
        gy = torch.randn(y.shape)
        y.backward(gy.double())
        t = {"x": x, "w": w, "gy": gy, "y": y.float(), "gx": xd.grad.float(), "gw": wd.grad.float()}
        if bias:
            t["b"] = b
            t["gb"] = bd.grad.float()
        nfref.save(out / f"linear_{name}.safetensors", t)
