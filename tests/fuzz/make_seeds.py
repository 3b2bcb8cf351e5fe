#!/usr/bin/python3
"""Writes the seed inputs of tests/fuzz/corpus/TARGET/seed_* (small valid and invalid
files per target; see each target's .cpp for its input layout). Run from anywhere:
    /usr/bin/python3 tests/fuzz/make_seeds.py   (Debian python: numpy, cv2)
Inputs found by fuzzing (crash-*, ...) live beside them and are never rewritten."""
import gzip, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEP = b"\n@@\n"


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def safetensors(tensors, meta=None, pad=True):
    header, buf = {}, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(buf), len(buf) + len(raw)]}
        buf += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + buf


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
i64 = lambda *v: struct.pack("<%dq" % len(v), *v)

# --- safetensors ---------------------------------------------------------------
good = safetensors({"conv.weight": ("F32", [2, 1, 1, 1], f32(1.5, -2)), "bn.num_batches_tracked": ("I64", [], i64(7)),
                    "h": ("F16", [3], b"\x00\x3c\x00\xc0\x00\x7c"), "b": ("BF16", [1, 2], b"\x80\x3f\xc0\x7f")},
                   meta={"format": "pt", "step": "12"})
put("safetensors", "valid", good)
put("safetensors", "empty_header", safetensors({}))
put("safetensors", "zero_dim", safetensors({"z": ("F32", [0, 4], b"")}))
put("safetensors", "truncated", good[:len(good) - 5])
put("safetensors", "bad_json", struct.pack("<Q", 8) + b'{"a":[1,')
put("safetensors", "bad_dtype", safetensors({"x": ("F64", [1], b"\0" * 8)}))
put("safetensors", "overlap", struct.pack("<Q", 96) + json.dumps(
    {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
     "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}).encode().ljust(96) + b"\0" * 8)
put("safetensors", "duplicate", struct.pack("<Q", 128) + (
    b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
).ljust(128) + b"\0" * 4)
put("safetensors", "huge_header_len", struct.pack("<Q", 1 << 62) + b"{}")

# --- checkpoint: model.safetensors @@ trainer_state.safetensors @@ config.yaml @@ manifest.json
model = safetensors({"fc.weight": ("F32", [1, 2], f32(0.25, 0.5)), "fc.bias": ("F32", [1], f32(0))})
state = safetensors({"optimizer.momentum_buffer.fc.weight": ("F32", [1, 2], f32(0, 0))},
                    meta={"step": "3", "epoch": "1", "rng": "0 0 0 0"})
config = b"seed: 0\nmodel: {name: resnet8, num_classes: 10}\n"
import hashlib
def manifest(files, fmt="normforge-manifest-1"):  # as framework/io/checkpoint.cpp writes it
    return json.dumps({"format": fmt, "files": {n: {"size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                                                for n, b in files.items()}}, indent=1).encode() + b"\n"
names = ["model.safetensors", "trainer_state.safetensors", "config.yaml"]
good_manifest = manifest(dict(zip(names, [model, state, config])))
put("checkpoint", "valid", SEP.join([model, state, config, good_manifest]))
put("checkpoint", "no_manifest", SEP.join([model, state, config]))
put("checkpoint", "incomplete", SEP.join([model, state]))
put("checkpoint", "bad_state", SEP.join([model, state[:20], config, good_manifest]))
put("checkpoint", "manifest_missing_file", SEP.join([model, state, config, manifest(dict(zip(names[:2], [model, state])))]))
put("checkpoint", "manifest_other_format", SEP.join([model, state, config, manifest({}, fmt="x")]))
put("checkpoint", "manifest_bad_json", SEP.join([model, state, config, b'{"format": "normforge-manifest-1", "files": {']))

# --- recipe: YAML @@ --set lines -------------------------------------------------
for name in ["smoke.yaml", "listed_resnet_fashion_mnist.yaml", "resnet18_cifar100.yaml", "finetune_cifar100_frozen_bn.yaml"]:
    with open(os.path.join(ROOT, "configs", name), "rb") as f:
        put("recipe", name.replace(".yaml", ""), f.read())
put("recipe", "sets", b"seed: 1\n" + SEP + b"optimizer.name=adamw\nschedule.name=onecycle\ndata.train_transforms=[{cutout: {size: 8}}]\n")
put("recipe", "layers", b"""model:
  num_classes: 3
  layers:
    - {conv: {out: 8, kernel: 3, padding: 1}}
    - batch_norm
    - {repeat: {times: 2, layers: [{residual: {body: [{conv: {out: 8, kernel: 3, padding: 1}}, relu], shortcut: []}}, relu]}}
    - global_avg_pool
    - {linear: {out: classes}, name: head}
data: {dataset: image_folder, image_size: 16}
schedule: {name: step, step_size: 3}
trainer: {epochs: 1, max_steps: null}
""")
put("recipe", "anchors", b"a: &x {p: 0.5}\ndata: {train_transforms: [{hflip: *x}]}\n")
put("recipe", "bad_sets", b"{}" + SEP + b"seed=-1\nmodel=3\nmodel.name.x=1\n")
put("recipe", "invalid_yaml", b"model: [\n")

# --- cifar: mode byte (1 CIFAR-100, 2 train, 4 names, 8 two batches), data @@ names
rec10 = lambda label: bytes([label]) + bytes((i * 7) % 256 for i in range(3072))
rec100 = lambda coarse, fine: bytes([coarse, fine]) + bytes((i * 3) % 256 for i in range(3072))
names10 = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
put("cifar", "c10_test", b"\x04" + rec10(3) + SEP + names10)
put("cifar", "c10_train_two", b"\x0a" + rec10(9))
put("cifar", "c10_bad_label", b"\x00" + rec10(10))
put("cifar", "c10_short", b"\x00" + rec10(1)[:100])
put("cifar", "c100_train", b"\x07" + rec100(1, 99) + SEP + b"".join(b"c%d\r\n" % i for i in range(100)))
put("cifar", "c100_few_names", b"\x05" + rec100(1, 2) + SEP + b"a\nb\n")

# --- idx: mode byte (1 Fashion, 2 train, 4 images .gz, 8 labels .gz), images @@ labels
def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload
images = idx([2, 3, 2], bytes(range(12)))
labels = idx([2], bytes([1, 9]))
put("idx", "mnist", b"\x00" + images + SEP + labels)
put("idx", "fashion_gz", b"\x0f" + gzip.compress(images, mtime=0) + SEP + gzip.compress(labels, mtime=0))
put("idx", "count_mismatch", b"\x02" + images + SEP + idx([3], bytes([1, 2, 3])))
put("idx", "bad_label", b"\x00" + images + SEP + idx([2], bytes([1, 10])))
put("idx", "huge_dims", b"\x00" + idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b"") + SEP + labels)
put("idx", "big_claim", b"\x00" + idx([1 << 14, 1 << 10, 1 << 10], b"\1" * 16) + SEP + labels)

# --- image: mode byte (1 gray, 2 resize, 4 folder, 8 skip_bad_images), H-1, W-1, file
try:
    import numpy as np, cv2
except ImportError:
    sys.exit("make_seeds: image seeds need python3-opencv and numpy")
img = (np.arange(5 * 4 * 3).reshape(5, 4, 3) * 4).astype(np.uint8)
enc = {ext: cv2.imencode(ext, img)[1].tobytes() for ext in [".png", ".jpg", ".bmp", ".ppm", ".tiff", ".webp"]}
enc[".pgm"] = cv2.imencode(".pgm", img[:, :, 0])[1].tobytes()
for i, (ext, data) in enumerate(sorted(enc.items())):
    put("image", ext[1:], bytes([i % 4, 7, 9]) + data)
put("image", "png_folder", b"\x04\x00\x00" + enc[".png"])
put("image", "png_truncated", b"\x00\x00\x00" + enc[".png"][:60])
put("image", "jpg_truncated", b"\x02\x03\x03" + enc[".jpg"][:200])
put("image", "garbage_folder", b"\x06\x02\x02not an image at all")
put("image", "garbage_folder_skip", b"\x0e\x02\x02not an image at all")
put("image", "empty_skip", b"\x0c\x00\x00")
