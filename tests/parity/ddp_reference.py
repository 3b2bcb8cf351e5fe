"""PyTorch reference of data-parallel training without SyncBatchNorm, for
tests/cli/dist_ddp_parity.sh: python3 ddp_reference.py RECIPE.yaml OUT_DIR [--ddp].

RECIPE.yaml is a listed-network recipe on CIFAR-10 (tests/cli/dist_common.bash's
write_dist_recipe): shuffle off, no augmentation, SGD, a constant schedule, trainer.max_steps
steps. The network is built from the recipe's own layer list (tools/scripts/bench/torch_models.py's
`sequential`, which keeps normforge's tensor names) and initialized by PyTorch with
torch.manual_seed; BatchNorm affine and running statistics are then randomized so that
they are not the trivial 1/0 values. OUT_DIR receives
  init.safetensors   the initial state dict (the recipe's model.init)
  ref.npz            for every step s = 1..max_steps, the state dict after step s:
                       f64.<s>.<tensor>   computed in float64, running statistics from
                                          rank 0's chain (what normforge saves)
                       f32.<s>.<tensor>   the same in float32 (float32's own floor)
                       r1.<s>.<tensor>    float64, running statistics from rank 1's chain
                       nored.<s>.<tensor> float64, no gradient averaging: each step uses
                                          rank 0's gradient alone (a negative control)
                     loss.<s>: [rank 0 loss, rank 1 loss] of step s (float64 mean CE)

The reference is DDP's semantics computed in one process, 2 "ranks" = 2 shards:
DistributedSampler without shuffle (rank r takes dataset indices r, r+2, ...; batch_size
is per rank), each shard's BatchNorm normalizes with its own batch statistics and updates
its own running statistics (one buffer set per shard, the weights shared), the loss of a
shard is the mean cross-entropy over its batch, the gradients are averaged over the two
shards (sum * 0.5), then one optimizer step. --ddp additionally runs torch's real
DistributedDataParallel (2 processes, gloo, broadcast_buffers=False, float64) and checks
that it agrees with the one-process reference (rank 0's state) to 1e-10 relative.
Not named ref_*.py, so run_all.py leaves it out: it needs the CIFAR-10 sample and a recipe."""
import os
import pathlib
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools" / "scripts" / "bench"))
import nfref  # noqa: E402
from torch_models import sequential  # noqa: E402

WORLD = 2
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]


def load_cifar(path):
    """(uint8 images N x 3 x 32 x 32, int64 labels) of a CIFAR-10 binary batch file."""
    raw = np.fromfile(path, np.uint8).reshape(-1, 3073)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def normalize(images, dtype):
    """x / 255 then (x - mean) / std per channel, as the recipe's normalize transform."""
    np_dt = np.float64 if dtype == torch.float64 else np.float32
    x = images.astype(np_dt) / np_dt(255)
    x = (x - np.array(MEAN, np_dt)[:, None, None]) / np.array(STD, np_dt)[:, None, None]
    return torch.from_numpy(np.ascontiguousarray(x))


def shard_batch(images, labels, rank, step, batch, dtype):
    """Rank `rank`'s batch of step `step` (0-based): dataset indices rank + WORLD * (batch * step + j)."""
    idx = rank + WORLD * (batch * step + np.arange(batch))
    assert idx[-1] < len(labels), "the sample is too small for this many steps"
    return normalize(images[idx], dtype), torch.from_numpy(labels[idx])


def optimizer(params, o):
    """The recipe's SGD with tools/recipe/recipe.cpp's defaults (nesterov defaults to true)."""
    assert o.get("name", "sgd") == "sgd", "only SGD is supported here"
    return torch.optim.SGD(params, lr=o.get("lr", 0.1), momentum=o.get("momentum", 0.9),
                           dampening=o.get("dampening", 0.0), nesterov=o.get("nesterov", True),
                           weight_decay=o.get("weight_decay", 5e-4))


def check_recipe(r):
    d, t = r["data"], r["trainer"]
    assert d["dataset"] == "cifar10" and d.get("shuffle") is False, "needs cifar10 with shuffle: false"
    assert [list(x) for x in d["train_transforms"]] == [["normalize"]], "needs normalize as the only transform"
    assert d["train_transforms"][0]["normalize"] == {"mean": MEAN, "std": STD}, "unexpected normalize"
    assert r.get("schedule", {}).get("name") == "constant", "needs a constant schedule"
    assert "bn" not in r["model"] or not r["model"]["bn"].get("sync"), "the reference is for model.bn.sync false"


def build(r):
    model, shape = sequential(r["model"]["layers"], (3, 32, 32), r["model"]["num_classes"], r["model"].get("bn"))
    assert shape == (r["model"]["num_classes"],), shape
    return model


def make_init(r, seed):
    torch.manual_seed(seed)
    model = build(r)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def buffers(model):
    return {k: v.detach().clone() for k, v in model.named_buffers()}


def set_buffers(model, bufs):
    with torch.no_grad():
        for k, v in model.named_buffers():
            v.copy_(bufs[k])


def train(r, init, images, labels, dtype, average=True):
    """[(state after step s with rank 0's buffers, rank 1's buffers, [loss0, loss1])] for each step."""
    model = build(r)
    model.load_state_dict(init, strict=True)
    model = model.to(dtype).train()
    opt = optimizer(model.parameters(), r["optimizer"])
    batch, steps = r["data"]["batch_size"], r["trainer"]["max_steps"]
    chain = [buffers(model) for _ in range(WORLD)]  # each rank's own running statistics
    out = []
    for step in range(steps):
        opt.zero_grad(set_to_none=False)
        losses = []
        for rank in range(WORLD if average else 1):
            set_buffers(model, chain[rank])
            x, y = shard_batch(images, labels, rank, step, batch, dtype)
            loss = F.cross_entropy(model(x), y)
            loss.backward()  # accumulates: the sum of the ranks' gradients
            losses.append(loss.item())
            chain[rank] = buffers(model)
        if average:
            for p in model.parameters():
                p.grad.mul_(1.0 / WORLD)
        else:  # rank 1 still runs forward (its running statistics chain), without its gradient
            set_buffers(model, chain[1])
            with torch.no_grad():
                x, y = shard_batch(images, labels, 1, step, batch, dtype)
                losses.append(F.cross_entropy(model(x), y).item())
            chain[1] = buffers(model)
        opt.step()
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        state.update(chain[0])
        other = dict(state)
        other.update(chain[1])
        out.append((state, other, losses))
    return out


def _ddp_worker(rank, r, init, images, labels, port, result):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=WORLD)
    model = build(r)
    model.load_state_dict(init, strict=True)
    model = model.double().train()
    ddp = nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
    opt = optimizer(ddp.parameters(), r["optimizer"])
    batch = r["data"]["batch_size"]
    for step in range(r["trainer"]["max_steps"]):
        opt.zero_grad()
        x, y = shard_batch(images, labels, rank, step, batch, torch.float64)
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
    if rank == 0:
        nfref.save(result, {k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
        torch.save(model.state_dict(), result + ".pt")
    torch.distributed.destroy_process_group()


def check_real_ddp(r, init, images, labels, ref):
    """torch's DistributedDataParallel (2 processes, gloo) against the one-process reference."""
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "ddp.safetensors")
        mp.spawn(_ddp_worker, args=(r, init, images, labels, port, result), nprocs=WORLD, join=True)
        got = torch.load(result + ".pt")
    worst = 0.0
    for k, v in ref.items():
        a, b = got[k].double(), v.double()
        rel = (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)
        worst = max(worst, rel)
    print(f"real torch DDP (2 processes, gloo, float64) vs the one-process reference: max relative difference {worst:.1e}")
    assert worst <= 1e-10, f"torch DDP disagrees with the one-process reference by {worst:.2e}"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        sys.exit("usage: ddp_reference.py RECIPE.yaml OUT_DIR [--ddp]")
    r = yaml.safe_load(open(args[0]))
    check_recipe(r)
    out = pathlib.Path(args[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    nfref.setup()
    images, labels = load_cifar(pathlib.Path(r["data"]["root"]) / "data_batch_1.bin")
    init = make_init(r, seed=int(r.get("seed", 0)) + 1000)
    nfref.save(out / "init.safetensors", init)
    ref = {}
    for tag, dtype, average in (("f64", torch.float64, True), ("f32", torch.float32, True),
                                ("nored", torch.float64, False)):
        for s, (state, other, losses) in enumerate(train(r, init, images, labels, dtype, average), 1):
            for k, v in state.items():
                ref[f"{tag}.{s}.{k}"] = v.numpy()
            if tag == "f64":
                for k, v in other.items():
                    ref[f"r1.{s}.{k}"] = v.numpy()
                ref[f"loss.{s}"] = np.array(losses)
                print(f"step {s}: reference loss rank 0 {losses[0]:.7f} rank 1 {losses[1]:.7f}")
    np.savez(out / "ref.npz", **ref)
    if "--ddp" in sys.argv:
        steps = r["trainer"]["max_steps"]
        last = {k[len(f"f64.{steps}."):]: torch.from_numpy(v) for k, v in ref.items() if k.startswith(f"f64.{steps}.")}
        check_real_ddp(r, init, images, labels, last)


if __name__ == "__main__":
    main()
