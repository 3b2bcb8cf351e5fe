#!/usr/bin/python3
"""PyTorch eager counterpart of `normforge bench`, for side-by-side comparisons.

Builds the same ResNet that normforge builds for configs/<model>_cifar10.yaml, or a
recipe's model.layers network (--config R.yaml, input shaped as its data)
(models/resnet.cpp: CIFAR 6n+2 ResNets with widths 16/32/64, or the ResNet-18 CIFAR
variant with a 3x3 stride-1 stem, no max-pool and widths 64..512; shortcut "pad" =
option A, "projection" = 1x1 conv + BN), the recipe's optimizer and label smoothing,
synthetic input randn [batch,3,32,32] and random labels. After 3 warm-up steps it times
`iters` train steps (zero_grad, forward, cross-entropy, backward, optimizer step) and
`iters` eval forwards (model.eval(), torch.no_grad()). Peak RSS is the whole process's,
so run one measurement per process (tools/scripts/bench/compare_pytorch.sh does).

Run with Debian's /usr/bin/python3 (python3-torch 1.13):
  /usr/bin/python3 tools/scripts/bench/pytorch_bench.py --model resnet20 --batch 128 --iters 20 \
      --threads 2 --layout channels_last --json
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build_model, build_optimizer, sequential  # noqa: E402
WARMUP = 3


def seconds_per_call(iters, f):
    for _ in range(WARMUP):
        f()
    t0 = time.perf_counter()
    for _ in range(iters):
        f()
    return (time.perf_counter() - t0) / iters


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["resnet20", "resnet56", "resnet18"])
    p.add_argument("--config", help="recipe (default: configs/MODEL_cifar10.yaml); one with model.layers needs no --model")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layout", choices=["nchw", "channels_last"], default="nchw")
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print a JSON object as the last line")
    a = p.parse_args()
    if a.batch < 1 or a.iters < 1 or a.threads < 1:
        p.error("--batch, --iters and --threads must be >= 1")

    if not a.model and not a.config:
        p.error("give --model or --config")
    config = a.config or os.path.join(REPO, "configs", f"{a.model}_cifar10.yaml")
    with open(config) as f:
        recipe = yaml.safe_load(f) or {}
    m = recipe.get("model", {}) or {}
    listed = "layers" in m
    if not listed and m.get("name", "resnet20") != a.model:
        sys.exit(f"pytorch_bench: {config} is model {m.get('name')}, not {a.model}")
    # The input's [C, H, W] as tools/recipe/recipe.cpp derives it from the data.
    data = recipe.get("data", {}) or {}
    dataset = data.get("dataset", "cifar10")
    side = 28 if dataset in ("fashion_mnist", "mnist") else data.get("image_size", 32) if dataset == "image_folder" else 32
    chw = (m.get("in_channels", 3), side, side)
    label_smoothing = (recipe.get("loss", {}) or {}).get("label_smoothing", 0.0)

    torch.set_num_threads(a.threads)
    torch.manual_seed(recipe.get("seed", 0))
    fmt = torch.channels_last if a.layout == "channels_last" else torch.contiguous_format
    model = (sequential(m["layers"], chw, a.num_classes, m.get("bn"))[0] if listed
             else build_model(a.model, a.num_classes, m)).to(memory_format=fmt)
    opt = build_optimizer(model.parameters(), recipe.get("optimizer", {}) or {})
    x = torch.randn(a.batch, *chw).contiguous(memory_format=fmt)
    y = torch.randint(0, a.num_classes, (a.batch,))

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y, label_smoothing=label_smoothing).backward()
        opt.step()

    def eval_step():
        with torch.no_grad():
            model(x)

    model.train()
    train_s = seconds_per_call(a.iters, train_step)
    model.eval()
    eval_s = seconds_per_call(a.iters, eval_step)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    label = a.model or os.path.basename(config)
    res = {"model": label, "layout": a.layout, "batch": a.batch, "threads": torch.get_num_threads(),
           "train_images_per_s": a.batch / train_s, "eval_images_per_s": a.batch / eval_s,
           "train_ms_per_step": 1e3 * train_s, "eval_ms_per_step": 1e3 * eval_s,
           "peak_rss_mib": rss, "torch": torch.__version__}
    print(f"pytorch {torch.__version__} {label} {a.layout}, batch {a.batch}, {res['threads']} threads, "
          f"{a.iters} timed steps ({WARMUP} warm-up): train {res['train_images_per_s']:.1f} img/s, "
          f"eval {res['eval_images_per_s']:.1f} img/s, peak RSS {rss:.0f} MiB")
    if a.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
