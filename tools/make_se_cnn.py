#!/usr/bin/env python3
"""Trains a small squeeze-and-excitation CNN on Fashion-MNIST with real Keras 3 and saves it as
a legacy HDF5 model (models/se-cnn.h5), the shipped test case for gated networks.

    python3 tools/make_se_cnn.py OUT.h5

Two blocks of Conv2D (3×3, ReLU), a squeeze-and-excitation gate — global average pooling,
Dense to a quarter of the channels (ReLU), Dense back (sigmoid), Reshape to 1×1×C, Multiply with
the block's image, as EfficientNet writes it — and 2×2 max pooling; then Dense 10 (logits).
Three epochs with Adam (lr 1e-3, batch 128, seed 7) on Debian's dataset-fashion-mnist.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_fashion_model import load  # noqa: E402


def block(x, filters, name):
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv")(x)
    g = keras.layers.GlobalAveragePooling2D(name=f"{name}_squeeze")(x)
    g = keras.layers.Dense(filters // 4, activation="relu", name=f"{name}_reduce")(g)
    g = keras.layers.Dense(filters, activation="sigmoid", name=f"{name}_expand")(g)
    g = keras.layers.Reshape((1, 1, filters), name=f"{name}_gate")(g)
    x = keras.layers.Multiply(name=f"{name}_excite")([x, g])
    return keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def main(out):
    keras.utils.set_random_seed(7)
    x, y = load("train")
    tx, ty = load("test")
    inputs = keras.Input((28, 28, 1), name="image")
    h = block(block(inputs, 16, "b1"), 32, "b2")
    logits = keras.layers.Dense(10, name="logits")(keras.layers.Flatten(name="flatten")(h))
    model = keras.Model(inputs, logits, name="se_cnn")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=128, verbose=2)
    accuracy = float((model.predict(tx, verbose=0).argmax(axis=1) == ty).mean())
    model.save(out)
    print(f"wrote {out}: Keras test accuracy {accuracy:.4f}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
