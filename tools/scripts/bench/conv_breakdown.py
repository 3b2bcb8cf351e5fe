#!/usr/bin/env python3
"""Where a training step's time goes: convolutions vs everything else.

Runs `normforge bench CONFIG` twice: once plainly for the step time (ms per train step
and per eval pass), once with ONEDNN_VERBOSE=1, whose exec lines give every oneDNN
primitive's own run time. The training steps' lines are those up to the last backward
one, the evaluation passes' the rest (Winograd convolutions run as forward_training in
both). Convolution time per step = the training convolutions' sum / number of train steps
run (warm-up included); per eval pass likewise. "Rest" is the step time minus that: BN,
ReLU, add, pooling, loss, optimizer, autograd and allocation.
The "floor" is the same sum with each distinct convolution (direction and geometry)
counted at the fastest of its calls: close to the convolutions alone with warm caches,
as a primitive benchmark measures them.

usage: tools/scripts/bench/conv_breakdown.py CONFIG [--normforge build/normforge] [--batch 128]
       [--iters 20] [--threads 2]
"""
import argparse
import collections
import json
import os
import subprocess
import sys

WARMUP = 3  # normforge bench's untimed steps (tools/cli/bench.cpp kWarmup)


def bench(args, verbose):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if verbose:
        env["ONEDNN_VERBOSE"] = "1"
    cmd = [args.normforge, "bench", args.config, "--batch", str(args.batch), "--iters", str(args.iters),
           "--threads", str(args.threads), "--json"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"conv_breakdown: {' '.join(cmd)} failed: {r.stderr.strip().splitlines()[-1:]}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--normforge", default="build/normforge")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    timing = json.loads(bench(args, False).strip().splitlines()[-1])
    ms = collections.defaultdict(float)  # (primitive kind, prop kind) -> total exec ms
    conv = {"train": 0.0, "eval": 0.0}  # convolution exec ms per phase
    calls = collections.defaultdict(list)  # training: (prop kind, geometry) -> exec ms of each conv call
    lines = [line.split(",") for line in bench(args, True).splitlines()
             if line.startswith("onednn_verbose,exec,cpu,") and len(line.split(",")) > 6]
    last_backward = max((i for i, f in enumerate(lines) if f[5].startswith("backward")), default=-1)
    for i, f in enumerate(lines):
        ms[(f[3], f[5])] += float(f[-1])
        if f[3] == "convolution":
            phase = "train" if i <= last_backward else "eval"
            conv[phase] += float(f[-1])
            if phase == "train":
                calls[(f[5], f[-2])].append(float(f[-1]))
    steps = WARMUP + args.iters
    conv_train, conv_eval = conv["train"] / steps, conv["eval"] / steps
    floor = sum(min(t) * len(t) for t in calls.values()) / steps
    train, evl = timing["train_ms_per_step"], timing["eval_ms_per_step"]
    print(f"{timing['model']}, batch {args.batch}, {args.threads} threads")
    print(f"  train step {train:7.1f} ms: convolutions {conv_train:6.1f} ms ({100 * conv_train / train:4.1f}%), "
          f"everything else {train - conv_train:6.1f} ms")
    print(f"  convolution floor (each conv at its fastest call) {floor:6.1f} ms per train step "
          f"= {1000 * args.batch / floor:6.0f} img/s if nothing else took time")
    print(f"  eval pass  {evl:7.1f} ms: convolutions {conv_eval:6.1f} ms ({100 * conv_eval / evl:4.1f}%), "
          f"everything else {evl - conv_eval:6.1f} ms")
    others = sorted(((v / steps, k) for k, v in ms.items() if k[0] != "convolution"), reverse=True)
    print("  other oneDNN primitives per train step + eval pass: " +
          ", ".join(f"{k[0]} {k[1]} {v:.1f} ms" for v, k in others[:5] if v >= 0.1))


if __name__ == "__main__":
    main()
