#!/usr/bin/env python3
"""Gated networks from keras.applications, as a user would make them: EfficientNetB0 and
MobileNetV3Small (full, hard-swish; with their own preprocessing from 0–255 pixels) at 32×32×3,
10 classes, their squeeze-and-excitation gates `x · sigmoid(…)` the layers under test.

    python3 tools/make_gated.py OUT_DIR [EPOCHS] [NAME ...]   # efficientnetb0, mobilenetv3small, mobilenetv2

Each is trained for EPOCHS (default 1) on the zoo's tinted Fashion-MNIST training images
(tools/make_zoo.py data, into .build/zoo-data unless there) and saved as OUT_DIR/NAME.h5, with
OUT_DIR/NAME-reference.npy: the in-memory model's outputs on the first 200 test images (Keras
3.x cannot load its own MobileNetV3 `.h5` back — a `hard_sigmoid` rebuilt from its config is
called with a float as a positional argument — so the reference comes from the model that wrote
the file). docs/spiking.md ("Gated networks") reports what the toolkit makes of them.
"""
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, ".build", "zoo-data")


def main():
    out = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    os.makedirs(out, exist_ok=True)
    if not os.path.exists(os.path.join(DATA, "train-x.npy")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_zoo.py"), "data", DATA], check=True)
    x = np.load(os.path.join(DATA, "train-x.npy")).astype("float32")
    y = np.load(os.path.join(DATA, "train-y.npy"))
    test = np.load(os.path.join(DATA, "test-x.npy"))[:200].astype("float32")
    keras.utils.set_random_seed(7)
    makers = {
        "efficientnetb0": lambda: keras.applications.EfficientNetB0(
            weights=None, input_shape=(32, 32, 3), classes=10),
        "mobilenetv3small": lambda: keras.applications.MobileNetV3Small(
            weights=None, input_shape=(32, 32, 3), classes=10, include_preprocessing=True),
        # Not gated: the ungated MobileNet generation, for comparison (its own 0–255 → ±1
        # scaling is the user's; a Rescaling layer in front does it here).
        "mobilenetv2": lambda: keras.Sequential([
            keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1),
            keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10, alpha=0.35)]),
    }
    names = sys.argv[3:] or ["efficientnetb0", "mobilenetv3small"]
    for name in names:
        model = makers[name]()
        # keras.applications' BatchNormalization layers keep moving statistics with momentum
        # 0.99–0.999, tuned for long ImageNet runs: after a few epochs here they would still be
        # near their initial values and the model would answer one class at inference. 0.9
        # gives the statistics a long training would.
        for layer in model.layers + [inner for outer in model.layers for inner in getattr(outer, "layers", [])]:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.9
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(x, y, batch_size=64, epochs=epochs, verbose=2)
        model.save(os.path.join(out, name + ".h5"))
        np.save(os.path.join(out, name + "-reference.npy"), np.asarray(model.predict(test, verbose=0)))
        print(name, "written", flush=True)


if __name__ == "__main__":
    main()
