#!/usr/bin/env python3
"""Makes a CIFAR-shaped data set and a Keras CNN trained on it, for the own-data tests.

    python3 tools/make_rgb_cnn.py OUT_DIR

Writes OUT_DIR/shapes.npz (x_train, y_train, x_test, y_test: uint8 images 32×32×3 and integer
labels), OUT_DIR/rgb_cnn.h5 (model.save of a Keras 3 model with Rescaling, ZeroPadding2D,
DepthwiseConv2D, SeparableConv2D and GlobalMaxPooling2D, ending in a softmax) and
OUT_DIR/keras.json ({"correct": …, "count": …}: Keras's own top-1 score on the test images).

The four classes are striped patterns — horizontal, vertical, diagonal, checkered — in random
colours, phases and periods over noise, so that a small network learns them in a few epochs.
Everything is seeded; nothing is downloaded.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")


def images(count, rng):
    import numpy as np
    rows, columns = np.mgrid[0:32, 0:32]
    x = np.zeros((count, 32, 32, 3), dtype=np.float64)
    y = rng.integers(0, 4, count)
    for n in range(count):
        period = rng.integers(3, 7)
        r, c = rows + rng.integers(0, period), columns + rng.integers(0, period)
        on = [(r // period) % 2, (c // period) % 2, ((r + c) // period) % 2,
              (r // period + c // period) % 2][y[n]]
        foreground, background = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        x[n] = np.where(on[..., None] == 1, foreground, background)
    x += rng.normal(0, 0.08, x.shape)
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8), y.astype(np.int64)


def main(out):
    import numpy as np
    import keras
    from keras import layers
    rng = np.random.default_rng(32)
    x_train, y_train = images(1200, rng)
    x_test, y_test = images(200, rng)
    np.savez(os.path.join(out, "shapes.npz"), x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    keras.utils.set_random_seed(32)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Rescaling(1 / 255),
        layers.ZeroPadding2D(1),
        layers.Conv2D(8, 3, strides=2, activation="relu"),
        layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        layers.SeparableConv2D(16, 3, strides=2, padding="same", activation="relu"),
        layers.GlobalMaxPooling2D(),
        layers.Dense(4, activation="softmax"),
    ], name="rgb_cnn")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    path = os.path.join(out, "rgb_cnn.h5")
    model.save(path)
    predicted = keras.models.load_model(path).predict(x_test, verbose=0).argmax(axis=-1)
    with open(os.path.join(out, "keras.json"), "w") as f:
        json.dump({"correct": int((predicted == y_test).sum()), "count": len(y_test)}, f)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_rgb_cnn.py OUT_DIR")
    main(sys.argv[1])
