"""Helpers for the PyTorch reference scripts: each ref_*.py defines make(out_dir) and
writes safetensors files with save(). Written by hand (a dozen lines) because Debian
ships no python3-safetensors; it also makes the reference an independent writer of
the format our C++ reader must accept."""
import json
import os
import struct

import numpy as np
import torch

_DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save(path, tensors):
    """tensors: dict name -> torch.Tensor (float32/int64...). Writes a safetensors file."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def setup():
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)
    torch.backends.mkldnn.enabled = True
