#!/usr/bin/python3
"""PyTorch data-parallel counterpart of normforge's 2-rank training, for tools/scripts/bench/dist_bench.sh.

Trains the ResNet that normforge builds for a recipe (tools/scripts/bench/torch_models.py; default
configs/resnet20_cifar10.yaml) with the recipe's optimizer, on synthetic CIFAR-shaped input
(randn [batch, 3, 32, 32], random labels; batch is PER PROCESS), in one of two set-ups:
  --procs 1 --threads 2 --batch 128   one process, plain model (no DDP)
  --procs 2 --threads 1 --batch 64    DistributedDataParallel, gloo, torch.multiprocessing
                                      processes on 127.0.0.1, broadcast_buffers=False
After --warmup steps it times --steps train steps (zero_grad, forward, cross-entropy,
backward, optimizer step) between barriers, on rank 0: img/s = procs * batch * steps /
seconds (global images). With DDP it then times --steps more steps under ddp.no_sync()
(no gradient allreduce, so no waiting for the other rank either): the difference of the
two per-step times is the allreduce's exposed cost per step (communication not hidden
behind backward, plus waiting for the slower rank), the counterpart of normforge's
allreduce_wait_ms. Prints a JSON object as the last line.
Run with Debian's /usr/bin/python3 (python3-torch 1.13)."""
import argparse
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build_model, build_optimizer  # noqa: E402


def worker(rank, a, port, result):
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    torch.set_num_threads(a.threads)
    with open(a.config) as f:
        recipe = yaml.safe_load(f) or {}
    m = recipe.get("model", {}) or {}
    torch.manual_seed(recipe.get("seed", 0))  # the same init on every rank
    fmt = torch.channels_last if a.layout == "channels_last" else torch.contiguous_format
    model = build_model(m.get("name", "resnet20"), m.get("num_classes", 10), m).to(memory_format=fmt).train()
    if a.procs > 1:
        os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
        dist.init_process_group("gloo", rank=rank, world_size=a.procs)
        net = torch.nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
    else:
        net = model
    opt = build_optimizer(net.parameters(), recipe.get("optimizer", {}) or {})
    g = torch.Generator().manual_seed(1000 + rank)  # each rank its own data
    x = torch.randn(a.batch, 3, 32, 32, generator=g).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (a.batch,), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    def timed(n, sync=True):
        if a.procs > 1:
            dist.barrier()
        t0 = time.perf_counter()
        for _ in range(n):
            if sync or a.procs == 1:
                step()
            else:
                with net.no_sync():
                    step()
        if a.procs > 1:
            dist.barrier()
        return (time.perf_counter() - t0) / n

    for _ in range(a.warmup):
        step()
    s_step = timed(a.steps)
    s_nosync = timed(a.steps, sync=False) if a.procs > 1 else None
    if rank == 0:
        res = {"procs": a.procs, "threads": a.threads, "batch_per_proc": a.batch, "layout": a.layout,
               "steps": a.steps, "warmup": a.warmup, "ms_per_step": 1e3 * s_step,
               "images_per_s": a.procs * a.batch / s_step, "torch": torch.__version__}
        if s_nosync is not None:
            res["ms_per_step_no_sync"] = 1e3 * s_nosync
            res["allreduce_exposed_ms"] = 1e3 * (s_step - s_nosync)
        with open(result, "w") as f:
            json.dump(res, f)
    if a.procs > 1:
        dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=os.path.join(REPO, "configs", "resnet20_cifar10.yaml"))
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128, help="per process")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--layout", choices=["nchw", "channels_last"], default="nchw")
    a = p.parse_args()
    if min(a.procs, a.threads, a.batch, a.steps) < 1 or a.warmup < 0:
        p.error("--procs, --threads, --batch and --steps must be >= 1, --warmup >= 0")
    result = f"/tmp/ddp_bench_{os.getpid()}.json"
    try:
        if a.procs == 1:
            worker(0, a, 0, result)
        else:
            import torch.multiprocessing as mp
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            mp.spawn(worker, args=(a, port, result), nprocs=a.procs, join=True)
        with open(result) as f:
            res = json.load(f)
    finally:
        if os.path.exists(result):
            os.remove(result)
    line = (f"pytorch {res['torch']} {a.procs} x {a.threads} threads, batch {a.batch} per process, {a.layout}: "
            f"{res['images_per_s']:.1f} img/s, {res['ms_per_step']:.1f} ms/step")
    if "allreduce_exposed_ms" in res:
        line += f" (no_sync {res['ms_per_step_no_sync']:.1f} ms/step: allreduce exposed {res['allreduce_exposed_ms']:.1f} ms/step)"
    print(line)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
