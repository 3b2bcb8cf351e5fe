"""A tiny reference used by the safetensors reader test (written by PyTorch + nfref.save)."""
import torch

import nfref


def make(out):
    nfref.save(out / "smoke.safetensors", {
        "a": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "n": torch.tensor(7, dtype=torch.int64),
        "h": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        "f": torch.tensor([0.5, 65504.0], dtype=torch.float16),
    })
