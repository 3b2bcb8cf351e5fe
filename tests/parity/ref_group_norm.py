"""torch.nn.GroupNorm and torch.nn.LayerNorm references: one forward and backward per
case. One file per case: group_norm_<case>.safetensors with x, gy (the output's
gradient), y, gx, and with affine weight, bias (random, not the defaults), gw, gb.
The C++ test (tests/unit/test_group_norm.cpp) mirrors CASES and feeds x in NCHW,
channels-last and, for multiples of 16 channels, blocked nChw16c."""
import torch

import nfref

# name: (module, input shape, input offset); mirrored in test_group_norm.cpp.
CASES = {
    "gn_g1": (lambda: torch.nn.GroupNorm(1, 6), (3, 6, 5, 3), 0.0),
    "gn_g2": (lambda: torch.nn.GroupNorm(2, 6), (3, 6, 5, 3), 0.0),
    "gn_g3": (lambda: torch.nn.GroupNorm(3, 6), (3, 6, 5, 3), 0.0),
    "gn_g6": (lambda: torch.nn.GroupNorm(6, 6), (3, 6, 5, 3), 0.0),
    "gn_noaffine_eps": (lambda: torch.nn.GroupNorm(3, 6, eps=1e-3, affine=False), (2, 6, 4, 7), 0.0),
    "gn_offset": (lambda: torch.nn.GroupNorm(2, 4), (2, 4, 6, 5), 100.0),
    "gn_3d": (lambda: torch.nn.GroupNorm(2, 4), (2, 4, 7), 0.0),
    "gn_2d": (lambda: torch.nn.GroupNorm(3, 12), (5, 12), 0.0),
    "gn_32ch": (lambda: torch.nn.GroupNorm(8, 32), (2, 32, 5, 4), 0.0),
    "gn_32ch_g1": (lambda: torch.nn.GroupNorm(1, 32), (3, 32, 3, 3), 0.0),
    "ln": (lambda: torch.nn.LayerNorm(7), (5, 7), 0.0),
    "ln_noaffine": (lambda: torch.nn.LayerNorm(10, elementwise_affine=False), (4, 10), 0.0),
    "ln_wide": (lambda: torch.nn.LayerNorm(300), (3, 300), 2.0),
}


def make(out_dir):
    for name, (build, shape, offset) in CASES.items():
        m = build()
        out = {}
        affine = getattr(m, "affine", None) or getattr(m, "elementwise_affine", False)
        if affine:
            with torch.no_grad():
                m.weight.copy_(1 + 0.5 * torch.randn(m.weight.shape))
                m.bias.copy_(0.5 * torch.randn(m.bias.shape))
            out.update({"weight": m.weight.clone(), "bias": m.bias.clone()})
        x = (torch.randn(shape) * 1.5 + offset).requires_grad_(True)
        gy = torch.randn(shape)
        y = m(x)
        y.backward(gy)
        out.update({"x": x, "gy": gy, "y": y, "gx": x.grad})
        if affine:
            out.update({"gw": m.weight.grad.clone(), "gb": m.bias.grad.clone()})
        nfref.save(out_dir / f"group_norm_{name}.safetensors", out)
