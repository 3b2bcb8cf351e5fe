"""The networks normforge builds (models/resnet.cpp, and a recipe's model.layers), in PyTorch,
and the recipe's optimizer,
shared by tools/scripts/bench/pytorch_bench.py (CPU) and tools/scripts/gpu/pytorch_gpu_bench.py (GPU):
the CIFAR 6n+2 ResNets (widths 16/32/64) and the ResNet-18/34 CIFAR variant (3x3
stride-1 stem, no max-pool, widths 64..512); shortcut "pad" = option A, "projection" =
1x1 conv + BN; dropout before the classifier.
"""
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, shortcut, bn):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, **bn)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, **bn)
        self.downsample, self.pad = None, None
        if stride != 1 or cin != cout:
            if shortcut == "pad":  # option A: strided subsampling, zero channels on both sides
                off = (cout - cin) // 2
                self.pad, self.stride = (0, 0, 0, 0, off, cout - cin - off), stride
            else:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                nn.BatchNorm2d(cout, **bn))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        elif self.pad is not None:
            identity = F.pad(x[:, :, ::self.stride, ::self.stride], self.pad)
        else:
            identity = x
        return F.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, stem, widths, blocks, num_classes, shortcut, bn, dropout):
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem, **bn)
        cin = stem
        for s, (w, n) in enumerate(zip(widths, blocks)):
            layer = []
            for b in range(n):
                layer.append(BasicBlock(cin, w, 2 if (s > 0 and b == 0) else 1, shortcut, bn))
                cin = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*layer))
        self.nstages = len(widths)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.nstages):
            x = getattr(self, f"layer{s + 1}")(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)


def build_model(name, num_classes, m):
    """models/resnet.cpp and models/registry.cpp, for the ResNets the comparison uses."""
    shortcut = m.get("shortcut", "projection")
    bnc = m.get("bn", {}) or {}
    bn = {"momentum": bnc.get("momentum", 0.1), "eps": bnc.get("eps", 1e-5)}
    dropout = m.get("dropout", 0.0)
    if name in ("resnet18", "resnet34"):
        blocks = [2, 2, 2, 2] if name == "resnet18" else [3, 4, 6, 3]
        return ResNet(64, [64, 128, 256, 512], blocks, num_classes, shortcut, bn, dropout)
    depth = int(name[len("resnet"):])
    if not (name.startswith("resnet") and depth >= 8 and (depth - 2) % 6 == 0):
        sys.exit(f"torch_models: unsupported model {name}")
    n = (depth - 2) // 6
    return ResNet(16, [16, 32, 64], [n, n, n], num_classes, shortcut, bn, dropout)


class Residual(nn.Module):
    """A listed network's residual: forward = body(x) + shortcut(x) (an empty shortcut is x)."""
    def __init__(self, body, shortcut):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


def sequential(layers, shape, num_classes, bn=None):
    """A recipe's model.layers (as YAML loads them: "relu", {"conv": {...}}, optional `name:`)
    as the nn.Sequential normforge builds (models/layer_registry.cpp), with its names; shape:
    the input's without the batch; bn: model.bn's defaults. Returns (module, output shape).
    Not here: repeat and ghost BatchNorm (virtual_batch), which PyTorch has no layer for."""
    bn = bn or {}
    mods = OrderedDict()
    for i, entry in enumerate(layers):
        if isinstance(entry, str):
            kind, a, name = entry, {}, str(i)
        else:
            name = str(entry.get("name", i))
            (kind, a), = [(k, v or {}) for k, v in entry.items() if k != "name"]
        out = a.get("out")
        out = num_classes if out == "classes" else out
        if kind == "conv":
            c, h, w = shape
            k, s, p, d, g = a["kernel"], a.get("stride", 1), a.get("padding", 0), a.get("dilation", 1), a.get("groups", 1)
            m = nn.Conv2d(c, out, k, s, p, d, g, a.get("bias", True))
            shape = (out, (h + 2 * p - d * (k - 1) - 1) // s + 1, (w + 2 * p - d * (k - 1) - 1) // s + 1)
        elif kind == "linear":
            m = nn.Linear(shape[0], out, a.get("bias", True))
            shape = (out,)
        elif kind == "batch_norm":
            if a.get("virtual_batch") is not None:
                sys.exit("torch_models: ghost BatchNorm (virtual_batch) has no PyTorch layer")
            m = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(
                shape[0], eps=a.get("eps", bn.get("eps", 1e-5)), momentum=a.get("momentum", bn.get("momentum", 0.1)),
                affine=a.get("affine", True), track_running_stats=a.get("track_running_stats", True))
        elif kind == "group_norm":
            m = nn.GroupNorm(a["groups"], shape[0], eps=a.get("eps", 1e-5), affine=a.get("affine", True))
        elif kind == "layer_norm":
            m = nn.GroupNorm(1, shape[0], eps=a.get("eps", 1e-5)) if len(shape) == 3 else nn.LayerNorm(shape[0], eps=a.get("eps", 1e-5))
        elif kind == "relu":
            m = nn.ReLU()
        elif kind == "dropout":
            m = nn.Dropout(a.get("p", 0.5))
        elif kind in ("max_pool", "avg_pool"):
            k = a["kernel"]
            s = a.get("stride") or k
            p = a.get("padding", 0)
            m = (nn.MaxPool2d if kind == "max_pool" else nn.AvgPool2d)(k, s, p)
            c, h, w = shape
            shape = (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        elif kind == "global_avg_pool":
            m = nn.AdaptiveAvgPool2d(1)
            shape = (shape[0], 1, 1)
        elif kind == "flatten":
            m = nn.Flatten()
            n = 1
            for dim in shape:
                n *= dim
            shape = (n,)
        elif kind == "residual":
            body, s_body = sequential(a["body"], shape, num_classes, bn)
            short, s_short = sequential(a.get("shortcut") or [], shape, num_classes, bn)
            assert s_body == s_short, (s_body, s_short)
            m, shape = Residual(body, short), s_body
        else:
            sys.exit(f"torch_models: layer '{kind}' is not supported here")
        mods[name] = m
    return nn.Sequential(mods), shape


def build_optimizer(params, o):
    """The recipe's optimizer with tools/recipe/recipe.cpp's defaults."""
    if o.get("no_weight_decay"):
        sys.exit("torch_models: optimizer.no_weight_decay is not supported here")
    if o.get("name", "sgd") == "adamw":
        return torch.optim.AdamW(params, lr=o.get("lr", 1e-3), betas=(o.get("beta1", 0.9), o.get("beta2", 0.999)),
                                 eps=o.get("eps", 1e-8), weight_decay=o.get("weight_decay", 1e-2))
    return torch.optim.SGD(params, lr=o.get("lr", 0.1), momentum=o.get("momentum", 0.9),
                           dampening=o.get("dampening", 0.0), nesterov=o.get("nesterov", True),
                           weight_decay=o.get("weight_decay", 5e-4))
