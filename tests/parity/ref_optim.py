"""PyTorch 1.13 references for framework/optim: SGD/AdamW trajectories and LR schedules.

optim_inputs.safetensors: "param.<name>" initial values, "grad.<k>.<name>" the gradient
  fed at step k (k = 0..STEPS-1).
optim_<config>.safetensors: "step<k>.<name>" parameters after step k+1, the final
  buffers "<kind>.<name>" (momentum_buffer / exp_avg / exp_avg_sq).
optim_lr.safetensors: "<schedule>" the lr in use at every step, float64 bit patterns
  stored as I64 (nfref.save has no F64) so the C++ side compares doubles exactly.
"""
import warnings

import numpy as np
import torch

import nfref

STEPS = 5
SHAPES = {"layer1.0.conv1.weight": (4, 3, 3, 3), "layer1.0.bn1.weight": (4,), "fc.weight": (10, 7),
          "fc.bias": (10,)}
NO_DECAY = ["layer1.0.bn1.weight", "fc.bias"]  # second group in the "groups" configs

SGD_CONFIGS = {
    "sgd_momentum": dict(lr=0.1, momentum=0.9),
    "sgd_nesterov_wd": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
    "sgd_dampening": dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-4),
    "sgd_plain": dict(lr=0.1, weight_decay=5e-4),
    "sgd_groups": dict(lr=0.1, momentum=0.9, weight_decay=5e-4, groups=(0.02, 0.0)),  # (lr, wd) of group 2
}
ADAMW_CONFIGS = {
    "adamw": dict(lr=1e-3),
    "adamw_custom": dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    "adamw_groups": dict(lr=1e-2, weight_decay=5e-2, groups=(3e-3, 0.0)),
}


def run(make_opt, kw, params0, grads):
    kw = dict(kw)
    groups = kw.pop("groups", None)
    ps = {n: p.clone().requires_grad_(True) for n, p in params0.items()}
    if groups:
        g1 = [ps[n] for n in ps if n not in NO_DECAY]
        g2 = [ps[n] for n in NO_DECAY]
        opt = make_opt([{"params": g1}, {"params": g2, "lr": groups[0], "weight_decay": groups[1]}], **kw)
    else:
        opt = make_opt(list(ps.values()), **kw)
    out = {}
    for k in range(STEPS):
        for n, p in ps.items():
            p.grad = grads[k][n].clone()
        opt.step()
        for n, p in ps.items():
            out[f"step{k}.{n}"] = p.detach().clone()
    for n, p in ps.items():
        for kind, buf in opt.state[p].items():
            if kind != "step" and buf is not None:
                out[f"{kind}.{n}"] = buf.clone()
    return out


def lr_sequence(make_sched, steps, base_lr, per_epoch=None):
    """lr in use at each step; per_epoch: steps per epoch when the scheduler steps per epoch."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_sched(opt)
    lrs = []
    for s in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if per_epoch is None or (s + 1) % per_epoch == 0:
            sched.step()
    return torch.from_numpy(np.array(lrs, dtype=np.float64).view(np.int64))


def make(out):
    warnings.filterwarnings("ignore", category=UserWarning)  # SequentialLR's epoch-argument deprecation notice
    S = torch.optim.lr_scheduler
    g = torch.Generator().manual_seed(42)
    params0 = {n: torch.randn(s, generator=g) for n, s in SHAPES.items()}
    grads = [{n: torch.randn(s, generator=g) * (0.5 + k) for n, s in SHAPES.items()} for k in range(STEPS)]
    grads[2]["fc.bias"][3] = 0.0  # an exact zero gradient entry
    inputs = {f"param.{n}": p for n, p in params0.items()}
    inputs.update({f"grad.{k}.{n}": t for k in range(STEPS) for n, t in grads[k].items()})
    nfref.save(out / "optim_inputs.safetensors", inputs)
    for name, kw in SGD_CONFIGS.items():
        nfref.save(out / f"optim_{name}.safetensors", run(torch.optim.SGD, kw, params0, grads))
    for name, kw in ADAMW_CONFIGS.items():
        adamw = lambda params, **k: torch.optim.AdamW(params, foreach=False, **k)
        nfref.save(out / f"optim_{name}.safetensors", run(adamw, kw, params0, grads))

    seqs = {
        "cosine": lr_sequence(lambda o: S.CosineAnnealingLR(o, T_max=100, eta_min=1e-3), 100, 0.1),
        "cosine_zero_min": lr_sequence(lambda o: S.CosineAnnealingLR(o, T_max=77), 77, 0.05),
        "step": lr_sequence(lambda o: S.StepLR(o, step_size=4, gamma=0.5), 60, 0.1, per_epoch=5),
        "multistep": lr_sequence(lambda o: S.MultiStepLR(o, milestones=[3, 5, 8], gamma=0.1), 70, 0.1, per_epoch=7),
        "onecycle": lr_sequence(lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=97, cycle_momentum=False), 97, 0.1),
        "onecycle_three_linear": lr_sequence(lambda o: S.OneCycleLR(
            o, max_lr=0.1, total_steps=50, pct_start=0.25, div_factor=10.0, final_div_factor=100.0,
            three_phase=True, anneal_strategy="linear", cycle_momentum=False), 50, 0.1),
        "warmup_cosine": lr_sequence(lambda o: S.SequentialLR(o, [
            S.LinearLR(o, start_factor=0.1, total_iters=10), S.CosineAnnealingLR(o, T_max=90, eta_min=1e-4)],
            milestones=[10]), 100, 0.1),
        "warmup_constant": lr_sequence(lambda o: S.LinearLR(o, start_factor=0.25, total_iters=8), 20, 0.4),
    }
    nfref.save(out / "optim_lr.safetensors", seqs)
