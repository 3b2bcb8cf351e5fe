#!/usr/bin/python3
"""Checks behind tests/cli/export_onnx.sh and tests/cli/export_safetensors.sh (normforge export).

  perturb IN OUT          copy a checkpoint's model.safetensors with every BatchNorm's weight
                          in [0.7, 1.3] and bias in [-0.3, 0.3] (seeded), so that folding the
                          affine part is really tested (2 training steps leave them near 1, 0)
  onnx NAME ...           an exported ONNX file: checker, strict shape inference, opset 13,
                          input/output names and shapes, metadata, BatchNorm folding, and its
                          logits through OpenCV dnn against normforge's `eval --logits`
  folded NAME ...         a folded safetensors export against the original checkpoint
  png ROOT I OUT          test image I of a CIFAR binary folder as a PNG (cv2.imwrite)
  predict OUT LOGITS I    `normforge predict` output vs the softmax of eval's logits of image I
  relu OUT                a valid ONNX file that is not a normforge export (one Relu)
Each check prints what it measured; a failure exits 1 with the reason.
Run with Debian's /usr/bin/python3 (numpy, python3-onnx 1.12, python3-opencv 4.6, python3-yaml).
"""
import argparse
import json
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
DT_NAME = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64", np.dtype(np.float16): "F16"}


def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        die(msg)


def st_path(p):
    return p if p.endswith(".safetensors") else p + "/model.safetensors"


def load_st(path):
    with open(st_path(path), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], DT[v["dtype"]]).reshape(v["shape"])
            for k, v in h.items() if k != "__metadata__"}


def save_st(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name]).tobytes()
        header[name] = {"dtype": DT_NAME[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def bn_prefixes(t):
    return sorted(k[:-len(".running_mean")] for k in t if k.endswith(".running_mean"))


def cifar_test(root):
    raw = np.fromfile(root + "/test_batch.bin", np.uint8).reshape(-1, 3073)
    return raw[:, 0].astype(np.int64), raw[:, 1:].reshape(-1, 3, 32, 32)


def preprocess(images, mean, std):
    """normforge's evaluation input: /255, then the recipe's normalize (if any)."""
    x = images.astype(np.float32) / np.float32(255)
    if mean:
        x = (x - np.array(mean, np.float32).reshape(1, -1, 1, 1)) / np.array(std, np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray(x, np.float32)


def load_logits(path, n, classes):
    z = np.load(path)
    check(z.dtype == np.float32, f"{path}: dtype {z.dtype}, expected float32")
    check(z.shape == (n, classes), f"{path}: shape {z.shape}, expected ({n}, {classes})")
    check(np.isfinite(z).all(), f"{path}: non-finite logits")
    return z


def cmd_perturb(a):
    t = dict(load_st(a.src))
    rng = np.random.default_rng(0)
    for p in bn_prefixes(t):
        if p + ".weight" in t:
            t[p + ".weight"] = rng.uniform(0.7, 1.3, t[p + ".weight"].shape).astype(np.float32)
            t[p + ".bias"] = rng.uniform(-0.3, 0.3, t[p + ".bias"].shape).astype(np.float32)
    save_st(a.dst, t)


# ---------------------------------------------------------------- ONNX

def graph_info(g):
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    for o in g.output:
        consumers[o.name] = consumers.get(o.name, 0) + 1
    return producer, consumers


def dims(value_info):
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in value_info.type.tensor_type.shape.dim]


def check_onnx_file(path, a, expect_batch):
    """Structural checks; returns (model, BatchNormalization nodes, foldable BN nodes, ops)."""
    import onnx
    m = onnx.load(path)
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:  # noqa: BLE001
        die(f"{path}: onnx.checker: {e}")
    try:
        inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    except Exception as e:  # noqa: BLE001
        die(f"{path}: strict shape inference: {e}")
    opset = {o.domain: o.version for o in m.opset_import}
    check(opset.get("", opset.get("ai.onnx")) == 13, f"{path}: opset {opset}, expected 13")
    g = inferred.graph
    inits = {i.name for i in g.initializer}
    ins = [i for i in g.input if i.name not in inits]
    check([i.name for i in ins] == ["input"], f"{path}: graph inputs {[i.name for i in ins]}, expected ['input']")
    check([o.name for o in g.output] == ["logits"], f"{path}: graph outputs {[o.name for o in g.output]}")
    d_in, d_out = dims(ins[0]), dims(g.output[0])
    check(ins[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT, f"{path}: input is not float32")
    check(d_in[1:] == [3, 32, 32], f"{path}: input dims {d_in}, expected [N, 3, 32, 32]")
    check(len(d_out) == 2 and d_out[1] == a.classes, f"{path}: logits dims {d_out}, expected [N, {a.classes}]")
    if expect_batch == "dynamic":
        check(isinstance(d_in[0], str), f"{path}: input batch dim {d_in[0]!r}, expected a symbolic (dynamic) one")
        check(isinstance(d_out[0], str), f"{path}: logits batch dim {d_out[0]!r}, expected a symbolic (dynamic) one")
    else:
        check(d_in[0] == int(expect_batch), f"{path}: input dims {d_in}, expected [{expect_batch}, 3, 32, 32]")
        check(d_out[0] == int(expect_batch), f"{path}: logits dims {d_out} after shape inference, expected batch {expect_batch}")
    meta = {p.key: p.value for p in m.metadata_props}
    for k in ("normforge.mean", "normforge.std", "normforge.classes"):
        check(k in meta, f"{path}: metadata_props lack {k} (have {sorted(meta)})")
    mean, std = json.loads(meta["normforge.mean"]), json.loads(meta["normforge.std"])
    check(len(mean) == len(a.mean) and np.allclose(mean, a.mean, rtol=0, atol=1e-6),
          f"{path}: normforge.mean {mean}, recipe {a.mean}")
    check(len(std) == len(a.std) and np.allclose(std, a.std, rtol=0, atol=1e-6),
          f"{path}: normforge.std {std}, recipe {a.std}")
    classes = json.loads(meta["normforge.classes"])
    check(classes == a.class_names, f"{path}: normforge.classes {classes}, expected {a.class_names}")
    producer, consumers = graph_info(g)
    bns = [n for n in g.node if n.op_type == "BatchNormalization"]
    for n in bns:
        for at in n.attribute:
            check(not (at.name == "training_mode" and at.i), f"{path}: BatchNormalization {n.name} in training mode")
    foldable = [n for n in bns if n.input[0] in producer and producer[n.input[0]].op_type == "Conv"
                and consumers.get(n.input[0], 0) == 1]
    ops = sorted({n.op_type for n in g.node})
    for op in ("Dropout", "GroupNormalization", "LayerNormalization"):
        check(op not in ops, f"{path}: has {op} nodes (ops: {ops})")
    return m, bns, foldable, ops, (mean, std), producer, consumers


def run_opencv(path, x, chunk=128):
    """OpenCV dnn logits of x, in batches of chunk (the last one smaller: the batch changes)."""
    import cv2
    cv2.setNumThreads(2)
    net = cv2.dnn.readNetFromONNX(path)
    out = []
    for i in range(0, len(x), chunk):
        net.setInput(x[i:i + chunk])
        out.append(np.array(net.forward(), np.float32).reshape(len(x[i:i + chunk]), -1))
    return np.concatenate(out)


def cmd_onnx(a):
    a.mean, a.std = json.loads(a.mean), json.loads(a.std)
    a.class_names = [line.strip() for line in open(a.classes_file) if line.strip()]
    a.classes = len(a.class_names)
    t = load_st(a.checkpoint)
    n_bn = len(bn_prefixes(t))
    n_conv = sum(1 for k, v in t.items() if k.endswith(".weight") and v.ndim == 4)
    labels, images = cifar_test(a.data)
    ref = load_logits(a.logits, len(labels), a.classes)

    _, kbn, kfold, kops, (mean, std), _, _ = check_onnx_file(a.keep, a, "dynamic")
    _, fbn, ffold, fops, _, fprod, fcons = check_onnx_file(a.fold, a, "dynamic")
    check(len(kbn) == n_bn, f"{a.keep}: {len(kbn)} BatchNormalization nodes, the model has {n_bn} BatchNorm layers")
    check(not ffold, f"{a.fold}: BatchNormalization fed by a Conv (not folded): {[n.name or n.output[0] for n in ffold]}")
    left = len(fbn)
    check(left <= n_bn - len(kfold),
          f"{a.fold}: {left} BatchNormalization nodes left, expected at most {n_bn} - {len(kfold)} foldable")
    conv_shared = [n for n in fbn if n.input[0] in fprod and fprod[n.input[0]].op_type == "Conv"]
    n_conv_nodes = sum(1 for n in fprod.values() if n.op_type == "Conv")
    check(n_conv_nodes == n_conv + a.extra_convs,
          f"{a.fold}: {n_conv_nodes} Conv nodes, expected {n_conv} convolutions + {a.extra_convs} shortcut convs")
    note = ""
    if conv_shared:
        note = f" ({len(conv_shared)} left after a Conv whose output has other consumers too)"
    print(f"{a.name}: BatchNorm layers {n_bn}; keep-bn graph {len(kbn)} BatchNormalization nodes, "
          f"{len(kfold)} directly after a Conv; folded graph {left} left{note}")
    print(f"{a.name}: folded graph ops {fops}")

    x = preprocess(images, mean, std)
    for label, path in (("folded", a.fold), ("keep-bn", a.keep)):
        z = run_opencv(path, x)
        check(z.shape == ref.shape, f"{path}: OpenCV output {z.shape}, expected {ref.shape}")
        diff = np.abs(z - ref)
        same = (z.argmax(1) == ref.argmax(1))
        print(f"{a.name}: {label} ONNX through OpenCV vs normforge eval --logits, {len(x)} images: "
              f"max |diff| {diff.max():.3e} (logits up to {np.abs(ref).max():.2f}), "
              f"argmax equal on {same.sum()}/{len(x)}")
        check(diff.max() <= a.tol, f"{a.name}: {label} ONNX logits differ from normforge's by {diff.max():.3e} > {a.tol:g} "
              f"(worst image {int(diff.max(1).argmax())})")
        check(same.all(), f"{a.name}: {label} ONNX top-1 differs from normforge's on images {np.flatnonzero(~same)[:10].tolist()}")
    if a.fixed:
        _, _, _, _, _, _, _ = check_onnx_file(a.fixed, a, a.fixed_batch)
        b = int(a.fixed_batch)
        z = run_opencv(a.fixed, x[:b], chunk=b)
        diff = np.abs(z - ref[:b]).max()
        print(f"{a.name}: --batch {b} export: input [{b}, 3, 32, 32], OpenCV max |diff| {diff:.3e}")
        check(diff <= a.tol, f"{a.fixed}: logits differ by {diff:.3e}")


# ---------------------------------------------------------------- folded safetensors

def cmd_folded(a):
    import yaml
    orig, fold = load_st(a.original), load_st(a.folded)
    bns = bn_prefixes(orig)
    expect = json.loads(a.expect_folded)  # {bn_prefix: conv_prefix}
    gone = [p for p in bns if p + ".running_mean" not in fold]
    check(sorted(gone) == sorted(expect), f"folded BatchNorms {sorted(gone)}, expected {sorted(expect)}")
    removed = sorted(set(orig) - set(fold))
    added = sorted(set(fold) - set(orig))
    exp_removed = sorted(p + s for p in expect for s in (".weight", ".bias", ".running_mean", ".running_var",
                                                         ".num_batches_tracked") if p + s in orig)
    check(removed == exp_removed, f"removed tensors {removed}, expected {exp_removed}")
    exp_added = sorted(c + ".bias" for c in expect.values() if c + ".bias" not in orig)
    check(added == exp_added, f"added tensors {added}, expected {exp_added}")
    for c in expect.values():
        w = fold[c + ".weight"]
        check(w.ndim == 4 and w.shape == orig[c + ".weight"].shape, f"{c}.weight shape {w.shape}")
        check(fold[c + ".bias"].shape == (w.shape[0],), f"{c}.bias shape {fold[c + '.bias'].shape}")
    for k in fold:
        if k in orig and not any(k.startswith(c + ".") for c in expect.values()):
            check(fold[k].dtype == orig[k].dtype and fold[k].tobytes() == orig[k].tobytes(), f"{k} changed")
    n_orig = sum(v.size for v in orig.values())
    n_fold = sum(v.size for v in fold.values())
    n_expect = n_orig - sum(orig[k].size for k in exp_removed) + sum(fold[k].size for k in exp_added)
    check(n_fold == n_expect, f"{n_fold} elements in the folded file, expected {n_expect}")
    cfg = yaml.safe_load(open(a.config))
    check(cfg.get("model", {}).get("folded") is True, f"{a.config}: model.folded is {cfg.get('model', {}).get('folded')!r}")
    print(f"{a.name}: {len(gone)} of {len(bns)} BatchNorms folded, {len(removed)} tensors removed, "
          f"{len(added)} conv biases added; elements {n_orig} -> {n_fold}")
    ref, z = np.load(a.logits_original), np.load(a.logits_folded)
    check(z.dtype == np.float32 and z.shape == ref.shape, f"folded logits {z.dtype} {z.shape} vs {ref.dtype} {ref.shape}")
    diff = np.abs(z - ref)
    same = z.argmax(1) == ref.argmax(1)
    print(f"{a.name}: normforge eval --logits, folded vs original, {len(z)} images: max |diff| {diff.max():.3e} "
          f"(logits up to {np.abs(ref).max():.2f}), top-1 equal on {same.sum()}/{len(z)}")
    check(diff.max() <= a.tol, f"{a.name}: folded logits differ by {diff.max():.3e} > {a.tol:g}")
    check(same.all(), f"{a.name}: folded top-1 differs on images {np.flatnonzero(~same)[:10].tolist()}")


# ---------------------------------------------------------------- predict

def cmd_png(a):
    import cv2
    _, images = cifar_test(a.root)
    check(cv2.imwrite(a.out, np.ascontiguousarray(images[a.index].transpose(1, 2, 0)[:, :, ::-1])), "cv2.imwrite")


def cmd_predict(a):
    """`normforge predict` output (`   1. dog               10.72%` lines) vs softmax(logits[i])."""
    rows = []
    for line in open(a.out):
        parts = line.split()
        if len(parts) == 3 and parts[0].rstrip(".").isdigit() and parts[2].endswith("%"):
            rows.append((parts[1], float(parts[2][:-1])))
    check(rows, f"no top-k lines in the predict output: {open(a.out).read()!r}")
    names = [line.strip() for line in open(a.classes_file) if line.strip()]
    z = np.load(a.logits)[a.index].astype(np.float64)
    p = np.exp(z - z.max())
    p = 100 * p / p.sum()
    order = np.argsort(-p, kind="stable")
    check(rows[0][0] == names[order[0]], f"predict top-1 '{rows[0][0]}', eval's argmax '{names[order[0]]}'")
    for name, pct in rows:
        check(name in names, f"unknown class '{name}'")
        check(abs(pct - p[names.index(name)]) <= 0.011, f"predict says {name} {pct}%, eval's softmax {p[names.index(name)]:.3f}%")
    print(f"{a.label}: top-1 {rows[0][0]} {rows[0][1]}% (eval's softmax: {p[order[0]]:.3f}%), {len(rows)} rows agree")


def cmd_relu(a):
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Relu", ["input"], ["logits"])], "relu",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 32, 32])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, a.out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("perturb")
    s.add_argument("src")
    s.add_argument("dst")
    s = sub.add_parser("onnx")
    s.add_argument("name")
    s.add_argument("--fold", required=True)
    s.add_argument("--keep", required=True)
    s.add_argument("--fixed", help="a --batch N export")
    s.add_argument("--fixed-batch", default="4")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--logits", required=True)
    s.add_argument("--data", required=True, help="CIFAR binary folder whose test_batch.bin eval read")
    s.add_argument("--mean", default="[]")
    s.add_argument("--std", default="[]")
    s.add_argument("--classes-file", required=True)
    s.add_argument("--extra-convs", type=int, default=0, help="Conv nodes with no checkpoint weight (pad shortcuts)")
    s.add_argument("--tol", type=float, default=1e-4)
    s = sub.add_parser("folded")
    s.add_argument("name")
    s.add_argument("--original", required=True)
    s.add_argument("--folded", required=True)
    s.add_argument("--config", required=True)
    s.add_argument("--expect-folded", required=True, help='JSON {"bn prefix": "conv prefix"}')
    s.add_argument("--logits-original", required=True)
    s.add_argument("--logits-folded", required=True)
    s.add_argument("--tol", type=float, default=1e-5)
    s = sub.add_parser("png")
    s.add_argument("root")
    s.add_argument("index", type=int)
    s.add_argument("out")
    s = sub.add_parser("predict")
    s.add_argument("label")
    s.add_argument("out")
    s.add_argument("logits")
    s.add_argument("index", type=int)
    s.add_argument("--classes-file", required=True)
    s = sub.add_parser("relu")
    s.add_argument("out")
    a = p.parse_args()
    {"perturb": cmd_perturb, "onnx": cmd_onnx, "folded": cmd_folded, "png": cmd_png, "predict": cmd_predict,
     "relu": cmd_relu}[a.cmd](a)


if __name__ == "__main__":
    main()
