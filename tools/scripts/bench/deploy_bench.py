#!/usr/bin/python3
"""Inference-speed helpers of tools/scripts/bench/deploy_bench.sh (one measurement per process).

  opencv --onnx F --batch B --iters N --threads T
      OpenCV dnn (cv2.dnn.readNetFromONNX) on a normforge ONNX export, fixed-size random
      input [B, 3, 32, 32]; 5 warm-up forwards, then N timed ones.
  torch --config R.yaml --checkpoint CKPT --batch B --iters N --threads T
      PyTorch 1.13's best CPU inference path for the recipe's model with the checkpoint's
      weights: torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(m.eval())))
      (the model from tools/scripts/bench/torch_models.py), torch.set_num_threads(T), no_grad,
      same input shape; 5 warm-up forwards, then N timed ones.
  report FILE
      the JSON lines the two above and `normforge bench --json` printed, as a markdown table
      of medians and of the per-round ratios normforge/OpenCV and normforge/PyTorch.
Each measurement prints one JSON line: {"images_per_s": ..., ...}.
Run with Debian's /usr/bin/python3 (numpy, python3-opencv 4.6, python3-torch 1.13, python3-yaml).
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WARMUP = 5


def timed(iters, f):
    for _ in range(WARMUP):
        f()
    t0 = time.perf_counter()
    for _ in range(iters):
        f()
    return time.perf_counter() - t0


def cmd_opencv(a):
    import cv2
    cv2.setNumThreads(a.threads)
    net = cv2.dnn.readNetFromONNX(a.onnx)
    x = np.random.default_rng(0).standard_normal((a.batch, 3, 32, 32), dtype=np.float32)

    def step():
        net.setInput(x)
        net.forward()
    s = timed(a.iters, step)
    print(json.dumps({"images_per_s": a.batch * a.iters / s, "ms_per_batch": 1e3 * s / a.iters,
                      "batch": a.batch, "threads": cv2.getNumThreads(), "opencv": cv2.__version__}))


def load_st(path):
    if not path.endswith(".safetensors"):
        path += "/model.safetensors"
    dt = {"F32": np.float32, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dt[v["dtype"]]).reshape(v["shape"]).copy()
            for k, v in h.items() if k != "__metadata__"}


def cmd_torch(a):
    import torch
    import yaml
    sys.path.insert(0, HERE)
    from torch_models import build_model, sequential
    torch.set_num_threads(a.threads)
    r = yaml.safe_load(open(a.config))
    m = r.get("model", {}) or {}
    ncls = m.get("num_classes", 10)
    if m.get("layers"):
        model, _ = sequential(m["layers"], (m.get("in_channels", 3), 32, 32), ncls, m.get("bn"))
    else:
        model = build_model(m.get("name", "resnet20"), ncls, m)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in load_st(a.checkpoint).items()})
    model.eval()
    eager = model
    if not m.get("layers"):
        # torch_models.ResNet.forward loops over getattr(self, f"layer{s}"), which TorchScript
        # cannot compile: the same modules as an nn.Sequential (weights already loaded).
        model = torch.nn.Sequential(model.conv1, model.bn1, torch.nn.ReLU(),
                                    *[getattr(model, f"layer{s + 1}") for s in range(model.nstages)],
                                    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                    *([model.dropout] if model.dropout is not None else []), model.fc).eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((a.batch, 3, 32, 32), dtype=np.float32))
    with torch.no_grad():
        ref = eager(x)
        try:
            scripted, how = torch.jit.script(model), "script"
        except Exception:  # noqa: BLE001  (a model TorchScript cannot compile: trace it)
            scripted, how = torch.jit.trace(model, x), "trace"
        fast = torch.jit.optimize_for_inference(torch.jit.freeze(scripted.eval()))
        diff = float((fast(x) - ref).abs().max())
        s = timed(a.iters, lambda: fast(x))
    print(json.dumps({"images_per_s": a.batch * a.iters / s, "ms_per_batch": 1e3 * s / a.iters, "batch": a.batch,
                      "threads": torch.get_num_threads(), "torch": torch.__version__, "jit": how,
                      "max_diff_vs_eager": diff}))


def cmd_report(a):
    rows = [json.loads(line) for line in open(a.file) if line.strip()]
    keys = []
    for r in rows:
        if (r["model"], r["batch"]) not in keys:
            keys.append((r["model"], r["batch"]))
    print("| model | batch | normforge img/s | OpenCV dnn img/s | PyTorch img/s | normforge/OpenCV | normforge/PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def med(v):
        return statistics.median(v) if v else None

    def fmt(v, spec):
        return "n/a" if v is None else format(v, spec)
    for model, batch in keys:
        per_round = {}
        for r in rows:
            if (r["model"], r["batch"]) == (model, batch):
                per_round.setdefault(r["round"], {})[r["tool"]] = r["images_per_s"]
        vals = {t: [pr[t] for pr in per_round.values() if t in pr] for t in ("normforge", "opencv", "torch")}
        ratio = {t: [pr["normforge"] / pr[t] for pr in per_round.values() if t in pr and "normforge" in pr]
                 for t in ("opencv", "torch")}
        print(f"| {model} | {batch} | {fmt(med(vals['normforge']), '.0f')} | {fmt(med(vals['opencv']), '.0f')} | "
              f"{fmt(med(vals['torch']), '.0f')} | {fmt(med(ratio['opencv']), '.2f')} | {fmt(med(ratio['torch']), '.2f')} |")
    rounds = len({r["round"] for r in rows})
    print(f"\nmedians over {rounds} rounds (ratios: median of the per-round ratios); "
          f"{rows[0].get('threads', '?')} threads")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("opencv", "torch"):
        s = sub.add_parser(name)
        if name == "opencv":
            s.add_argument("--onnx", required=True)
        else:
            s.add_argument("--config", required=True)
            s.add_argument("--checkpoint", required=True)
        s.add_argument("--batch", type=int, default=128)
        s.add_argument("--iters", type=int, default=20)
        s.add_argument("--threads", type=int, default=2)
    s = sub.add_parser("report")
    s.add_argument("file")
    a = p.parse_args()
    {"opencv": cmd_opencv, "torch": cmd_torch, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
