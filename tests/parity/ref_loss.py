"""PyTorch references for framework/ops/loss: F.cross_entropy (mean reduction) with and
without label smoothing; per case logits, targets, ls (F32 scalar), loss and the gradient
of loss w.r.t. logits."""
import torch
import torch.nn.functional as F

import nfref

CASES = {
    "loss_ce_small_ls0": (7, 10, 0.0),
    "loss_ce_small_ls01": (7, 10, 0.1),
    "loss_ce_one_ls01": (1, 3, 0.1),
    "loss_ce_big_ls0": (128, 100, 0.0),
    "loss_ce_big_ls01": (128, 100, 0.1),
}


def make(out):
    for name, (n, k, ls) in CASES.items():
        logits = (3 * torch.randn(n, k)).requires_grad_()
        targets = torch.randint(0, k, (n,))
        ls32 = torch.tensor(ls, dtype=torch.float32)
        loss = F.cross_entropy(logits, targets, label_smoothing=ls32.item())
        loss.backward()
        nfref.save(out / f"{name}.safetensors", {
            "logits": logits, "targets": targets, "ls": ls32, "loss": loss, "grad": logits.grad})
