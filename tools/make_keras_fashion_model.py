#!/usr/bin/env python3
"""Trains a small MLP on Fashion-MNIST with real Keras 3 and saves it as a legacy HDF5 model.

    python3 tools/make_keras_fashion_model.py OUT.h5 [REFERENCE.h5]

The model (784 → 128 ReLU → 64 ReLU → 10 logits, input (28, 28, 1) flattened) trains for 5
epochs with Adam (lr 1e-3, batch 128, seed 7) on the 60,000 training images read from Debian's
dataset-fashion-mnist. With REFERENCE.h5 it also records Keras's own test-set accuracy, the
logits for the first 100 test images (as `outputs`), and the library versions. It serves as a model "from
elsewhere" for the converter and as the demo's default until the toolkit's own models exist.
"""
import gzip
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def load(split):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(f"{DATA}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28, 1).astype(np.float32) / 255
    with gzip.open(f"{DATA}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read()[8:], np.uint8).astype(np.int64)
    return images, labels


def main(out, reference=None):
    keras.utils.set_random_seed(7)
    x, y = load("train")
    tx, ty = load("test")
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
         keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)], name="keras_fashion_mlp")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=128, verbose=2)
    logits = model.predict(tx, verbose=0)
    accuracy = float((logits.argmax(axis=1) == ty).mean())
    model.save(out)
    print(f"wrote {out}: Keras test accuracy {accuracy:.4f}", file=sys.stderr)
    if reference:
        with h5py.File(reference, "w") as f:
            f["outputs"] = logits[:100].astype(np.float32)
            f.attrs["test_accuracy"] = accuracy
            f.attrs["made_with"] = f"keras {keras.__version__}, backend {keras.backend.backend()}"


if __name__ == "__main__":
    main(*sys.argv[1:3])
