"""conv2d references: forward output and input/weight/bias gradients of F.conv2d,
computed in float64 from float32 inputs, one file per configuration:
conv_NAME.safetensors with x, w, [b], gy (the output gradient), y, gx, gw, [gb] and
params = [stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups] (int64)."""
import torch
import torch.nn.functional as F

import nfref

# name: (N, C, H, W, O, KH, KW, stride, padding, dilation, groups, bias)
CONFIGS = {
    "basic": (2, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1, True),
    "stride2_nopad": (3, 4, 7, 5, 6, 3, 3, (2, 2), (0, 0), (1, 1), 1, True),
    "blocked_s2": (4, 16, 12, 10, 32, 3, 3, (2, 2), (1, 1), (1, 1), 1, False),
    "blocked_s1": (2, 32, 9, 9, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1, True),
    "proj1x1": (2, 16, 8, 8, 32, 1, 1, (2, 2), (0, 0), (1, 1), 1, False),
    "groups2_dil2": (2, 4, 9, 7, 6, 3, 3, (1, 1), (2, 2), (2, 2), 2, False),
    "depthwise": (1, 16, 6, 9, 16, 3, 3, (1, 1), (1, 1), (1, 1), 16, True),
    "asym": (3, 6, 7, 11, 4, 3, 2, (2, 1), (1, 0), (1, 2), 2, True),
}


def make(out):
    for name, (n, c, h, w_, o, kh, kw, stride, pad, dil, groups, bias) in CONFIGS.items():
        bound = (c // groups * kh * kw) ** -0.5
        x = torch.randn(n, c, h, w_)
        w = torch.empty(o, c // groups, kh, kw).uniform_(-bound, bound)
        b = torch.empty(o).uniform_(-bound, bound) if bias else None
        xd = x.double().requires_grad_()
        wd = w.double().requires_grad_()
        bd = b.double().requires_grad_() if bias else None
        y = F.conv2d(xd, wd, bd, stride, pad, dil, groups)
        gy = torch.randn(y.shape)
        y.backward(gy.double())
        t = {"x": x, "w": w, "gy": gy, "y": y.float(), "gx": xd.grad.float(), "gw": wd.grad.float(),
             "params": torch.tensor([*stride, *pad, *dil, groups], dtype=torch.int64)}
        if bias:
            t["b"] = b
            t["gb"] = bd.grad.float()
        nfref.save(out / f"conv_{name}.safetensors", t)
