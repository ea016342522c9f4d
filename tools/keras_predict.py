#!/usr/bin/env python3
"""Loads a model file with real Keras 3 and writes its predictions for a batch.

    python3 tools/keras_predict.py MODEL.h5 INPUTS.h5 OUT.h5

INPUTS.h5 holds a float32 dataset `inputs`; OUT.h5 receives `outputs` (model.predict) and the
Keras version. Used by the ModelIO tests to check that files this toolkit writes load in Keras.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402


def main(model_path, inputs_path, out_path):
    model = keras.models.load_model(model_path, compile=False)
    with h5py.File(inputs_path, "r") as f:
        inputs = f["inputs"][()]
    outputs = np.asarray(model.predict(inputs, verbose=0), dtype=np.float32)
    with h5py.File(out_path, "w") as f:
        f["outputs"] = outputs
        f.attrs["keras_version"] = keras.__version__


if __name__ == "__main__":
    main(*sys.argv[1:4])
