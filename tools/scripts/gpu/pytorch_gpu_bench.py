#!/usr/bin/env python3
"""PyTorch on a CUDA GPU, the counterpart of `normforge bench --set device=cuda`.

Self-contained (ships in the GPU bundle next to tools/scripts/gpu/check.sh). Builds the same
network normforge builds for configs/<model>_cifar10.yaml (models/resnet.cpp: the CIFAR
6n+2 ResNets, widths 16/32/64, or the ResNet-18 CIFAR variant: 3x3 stride-1 stem, no
max-pool, widths 64..512; shortcut "pad" = option A, "projection" = 1x1 conv + BN),
the recipe's SGD/AdamW and label smoothing, synthetic randn [batch,3,32,32] input and
random labels, channels-last model and input (what normforge's `channels_last: true`
does). A training step is the one normforge bench times: zero_grad, forward,
cross-entropy, backward, optimizer step; an eval step is a no-grad forward in eval mode.

Modes:
  fp32              cuDNN and matmul TF32 off
  tf32              cuDNN and matmul TF32 on (torch.backends.*.allow_tf32)
  amp_bf16          torch.autocast(device_type='cuda', dtype=torch.bfloat16), TF32 on
  compile_amp_bf16  torch.compile(model) under the same autocast

After warm-up steps (10 for compile, 5 otherwise) it times `iters` steps between
torch.cuda.synchronize() calls. --json prints one JSON object as the last line.

  python3 tools/scripts/gpu/pytorch_gpu_bench.py --model resnet20 --batch 512 --iters 50 --mode amp_bf16 --json
"""
import argparse
import contextlib
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))  # the repository or the bundle: both hold configs/
sys.path.insert(0, os.path.join(REPO, "tools", "scripts", "bench"))
from torch_models import build_model, build_optimizer  # noqa: E402
MODES = ["fp32", "tf32", "amp_bf16", "compile_amp_bf16"]


def load_recipe(path):
    import yaml  # only needed here; PyYAML ships with the GPU machines' Python
    with open(path) as f:
        return yaml.safe_load(f) or {}


def seconds_per_step(iters, warmup, f):
    """Mean seconds per call over `iters` timed calls; also the warm-up's seconds."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        f()
    torch.cuda.synchronize()
    t1 = time.perf_counter()
    for _ in range(iters):
        f()
    torch.cuda.synchronize()
    return (time.perf_counter() - t1) / iters, t1 - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="resnet8/14/20/32/44/56/110, resnet18, resnet34")
    p.add_argument("--config", help="recipe (default: configs/MODEL_cifar10.yaml beside this tool)")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--mode", choices=MODES, default="amp_bf16")
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--no-eval", action="store_true", help="time training steps only")
    p.add_argument("--no-cudnn-benchmark", action="store_true", help="keep torch.backends.cudnn.benchmark off")
    p.add_argument("--json", action="store_true", help="print a JSON object as the last line")
    a = p.parse_args()
    if a.batch < 1 or a.iters < 1:
        p.error("--batch and --iters must be >= 1")
    if not torch.cuda.is_available():
        sys.exit("pytorch_gpu_bench: torch sees no CUDA device")

    config = a.config or os.path.join(REPO, "configs", f"{a.model}_cifar10.yaml")
    recipe = load_recipe(config)
    m = recipe.get("model", {}) or {}
    if m.get("name", "resnet20") != a.model:
        sys.exit(f"pytorch_gpu_bench: {config} is model {m.get('name')}, not {a.model}")
    label_smoothing = (recipe.get("loss", {}) or {}).get("label_smoothing", 0.0)

    tf32 = a.mode != "fp32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = not a.no_cudnn_benchmark
    amp = a.mode in ("amp_bf16", "compile_amp_bf16")
    compiled = a.mode == "compile_amp_bf16"
    autocast = (lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    warmup = 10 if compiled else 5

    torch.manual_seed(recipe.get("seed", 0))
    dev = torch.device("cuda")
    cl = torch.channels_last
    model = build_model(a.model, a.num_classes, m).to(dev, memory_format=cl)
    opt = build_optimizer(model.parameters(), recipe.get("optimizer", {}) or {})
    net = torch.compile(model) if compiled else model
    x = torch.randn(a.batch, 3, 32, 32, device=dev).contiguous(memory_format=cl)
    y = torch.randint(0, a.num_classes, (a.batch,), device=dev)

    def train_step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(net(x), y, label_smoothing=label_smoothing)
        loss.backward()
        opt.step()

    def eval_step():
        with torch.no_grad(), autocast():
            net(x)

    model.train()
    train_s, train_warm_s = seconds_per_step(a.iters, warmup, train_step)
    eval_s = eval_warm_s = None
    if not a.no_eval:
        model.eval()
        eval_s, eval_warm_s = seconds_per_step(a.iters, warmup, eval_step)

    res = {"model": a.model, "mode": a.mode, "batch": a.batch, "iters": a.iters, "warmup": warmup,
           "channels_last": True, "cudnn_benchmark": torch.backends.cudnn.benchmark,
           "train_images_per_s": a.batch / train_s, "train_ms_per_step": 1e3 * train_s,
           "train_warmup_s": train_warm_s,
           "eval_images_per_s": a.batch / eval_s if eval_s else None,
           "eval_ms_per_step": 1e3 * eval_s if eval_s else None, "eval_warmup_s": eval_warm_s,
           "peak_gpu_mem_mib": torch.cuda.max_memory_allocated() / 2**20,
           "device_name": torch.cuda.get_device_name(), "torch": torch.__version__}
    ev = f", eval {res['eval_images_per_s']:.0f} img/s" if eval_s else ""
    print(f"pytorch {torch.__version__} {a.model} {a.mode} on {res['device_name']}, batch {a.batch}, "
          f"{a.iters} timed steps ({warmup} warm-up, {train_warm_s:.1f} s): train {res['train_images_per_s']:.0f} "
          f"img/s{ev}, peak GPU memory {res['peak_gpu_mem_mib']:.0f} MiB")
    if a.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
