#!/usr/bin/env python3
"""Seed inputs for the libFuzzer harnesses in Fuzz/ (run by tools/fuzz).

usage: fuzz_seeds.py ROOT OUT NETWORK.snn.h5... -- RUN.json...

Writes OUT/<harness>/<name> for each harness, from the repository's own files:
  fuzz-keras-config  one byte choosing the weights file (in the order the harness opens them)
                     followed by the model_config of that file
  fuzz-snn-file      each .snn.h5 given, as the JSON description the harness writes back
                     (datasets of more than 64 values as one filling value)
  fuzz-run-record    each run record given
  fuzz-idx           the first images and labels of Fashion-MNIST's test set, plain and gzip
"""
import gzip
import json
import os
import struct
import sys

import h5py
import numpy as np


def keras_models(root):
    """The Keras files in the order fuzz-keras-config opens them."""
    paths = []
    for folder in ("Tests/ModelIOTests/Fixtures", "models"):
        directory = os.path.join(root, folder)
        names = sorted(n for n in os.listdir(directory) if n.endswith(".h5") and not n.endswith(".snn.h5"))
        paths += [os.path.join(directory, n) for n in names]
    return paths


def attribute(value):
    if isinstance(value, bytes):
        return {"s": value.decode("utf-8")}
    if isinstance(value, str):
        return {"s": value}
    array = np.atleast_1d(np.asarray(value))
    if array.dtype.kind in "OSU":
        return {"ss": [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.tolist()]}
    if array.dtype.kind in "iu":
        return {"i": [int(v) for v in array.tolist()]}
    return {"f": [float(v) for v in array.tolist()]}


def describe(group):
    description = {"attributes": {k: attribute(v) for k, v in group.attrs.items()}}
    datasets, groups = {}, {}
    for name, item in group.items():
        if isinstance(item, h5py.Group):
            groups[name] = describe(item)
        else:
            values = np.asarray(item[()], dtype=np.float64)
            double = item.dtype == np.float64
            entry = {"shape": list(item.shape)}
            if values.size <= 64:
                entry["d" if double else "f"] = [float(v) for v in values.ravel()]
            else:
                entry["fill"] = float(values.mean())
                entry["double"] = bool(double)
            datasets[name] = entry
    description["datasets"] = datasets
    description["groups"] = groups
    return description


def idx(magic, dimensions, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dimensions) + payload


def main():
    root, out = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    split = rest.index("--") if "--" in rest else len(rest)
    networks, runs = rest[:split], rest[split + 1:]

    def put(harness, name, data):
        directory = os.path.join(out, harness)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)

    index = 0
    for path in keras_models(root):
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs:
                continue  # reference outputs, not models: the harness skips them too
            config = f.attrs["model_config"]
        config = config.decode("utf-8") if isinstance(config, bytes) else str(config)
        put("fuzz-keras-config", os.path.basename(path), bytes([index]) + config.encode("utf-8"))
        index += 1
    for path in networks:
        with h5py.File(path, "r") as f:
            text = json.dumps(describe(f), sort_keys=True)
        put("fuzz-snn-file", os.path.basename(path) + ".json", text.encode("utf-8"))
    for path in runs:
        with open(path, "rb") as f:
            put("fuzz-run-record", os.path.basename(path), f.read())
    base = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(base, "t10k-images-idx3-ubyte.gz")) as f:
        pixels = f.read(16 + 3 * 784)[16:]
    with gzip.open(os.path.join(base, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = f.read(8 + 3)[8:]
    images = idx(0x803, [3, 28, 28], pixels)
    label_file = idx(0x801, [3], labels)
    put("fuzz-idx", "images", images)
    put("fuzz-idx", "images.gz", gzip.compress(images, mtime=0))
    put("fuzz-idx", "labels", label_file)
    put("fuzz-idx", "labels.gz", gzip.compress(label_file, mtime=0))


if __name__ == "__main__":
    main()
