#!/usr/bin/env python3
"""Trains the zoo of deep test networks (models/zoo/) and writes the 32×32×3 data they run on.

    python3 tools/make_zoo.py data DATA_DIR            # the data only (seconds)
    python3 tools/make_zoo.py train OUT_DIR [NAME …]   # data, then the named networks (all by default)

The networks are built the way people build CIFAR-size classifiers in Keras, each with a habit
that a converter has to survive: BatchNorm before and after the activation, raw 0…255 input
without a Rescaling layer, ReLU or softmax on the output layer, Dropout, residual adds with
projection shortcuts, depthwise-separable blocks with ReLU6. They are test beds for the
conversion, not results in themselves: widths are small enough that each trains in minutes on
two cores.

Data: Fashion-MNIST (Debian's dataset-fashion-mnist) at 32×32×3, each 28×28 image padded by two
zero pixels on every side and coloured by a seeded random tint per image (every channel the grey
level times a factor in [0.5, 1]), stored as uint8 0…255:

    DATA_DIR/train-x.npy  the first 5,000 training images (calibration and tuning read these)
    DATA_DIR/train-y.npy
    DATA_DIR/test-x.npy   all 10,000 test images
    DATA_DIR/test-y.npy
    DATA_DIR/NAME-test-ann.npy   (train only) each test image's class as the Keras model predicts
                                 it, the labels that turn accuracy into agreement with the ANN

Training uses the first 30,000 training images (the 5,000 above among them), Adam, seeded;
`OUT_DIR/zoo.json` records every network's Keras test accuracy, parameters and epochs.
"""
import gzip
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"
TRAIN_IMAGES = 30000


def fashion(prefix):
    with gzip.open(f"{FASHION}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
    with gzip.open(f"{FASHION}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read()[8:], np.uint8).astype(np.int64)
    return images, labels


def coloured(images, seed):
    """Pads 28×28 grey images to 32×32 and tints each with its own seeded colour."""
    rng = np.random.default_rng(seed)
    tint = rng.uniform(0.5, 1.0, (len(images), 1, 1, 3))
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float64)[..., None]
    return np.rint(padded * tint).astype(np.uint8)


def data(directory):
    os.makedirs(directory, exist_ok=True)
    x, y = fashion("train")
    tx, ty = fashion("t10k")
    x, tx = coloured(x, 1), coloured(tx, 2)
    np.save(os.path.join(directory, "train-x.npy"), x[:5000])
    np.save(os.path.join(directory, "train-y.npy"), y[:5000])
    np.save(os.path.join(directory, "test-x.npy"), tx)
    np.save(os.path.join(directory, "test-y.npy"), ty)
    return x[:TRAIN_IMAGES], y[:TRAIN_IMAGES], tx, ty


def conv_bn_relu(layers, x, filters, stride=1, order="bn-relu", activation="relu"):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=order != "bn-relu")(x)
    if order == "bn-relu":
        x = layers.BatchNormalization()(x)
        return layers.Activation(activation)(x)
    x = layers.Activation(activation)(x)
    return layers.BatchNormalization()(x)


def vgg(keras, layers, name, blocks, order, rescale, dropout, output):
    """A VGG of `blocks` (filters per convolution, a 2×2 max pooling after each block), then
    Dense 128 with Dropout and a Dense 10 with the `output` activation."""
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs) if rescale else inputs
    for block in blocks:
        for filters in block:
            x = conv_bn_relu(layers, x, filters, order=order)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(10, activation=output)(x)
    return keras.Model(inputs, outputs, name=name), output != "softmax"


def vgg11_bn(keras, layers):
    """VGG-11 at a quarter width: conv → BN → ReLU, Rescaling, a softmax output, Dropout."""
    return vgg(keras, layers, "vgg11_bn", [[16], [32], [64, 64], [128, 128], [128, 128]], "bn-relu", True, 0.3,
               "softmax")


def vgg13_relu_bn(keras, layers):
    """VGG-13 at a quarter width: conv → ReLU → BN, raw 0…255 pixels, ReLU on the logits."""
    return vgg(keras, layers, "vgg13_relu_bn", [[16, 16], [32, 32], [64, 64], [128, 128], [128, 128]],
               "relu-bn", False, 0.4, "relu")


def cifar_cnn(keras, layers):
    """The shape of a popular hand-written CIFAR-10 CNN at half width: six convolutions, each
    ReLU then BatchNorm, 2×2 and 1×1 max pooling, Dense 512-256 with Dropout, ReLU on the
    logits, raw 0…255 pixels."""
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for filters, pool in [(32, 0), (32, 2), (64, 0), (64, 2), (32, 0), (32, 1)]:
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x)
        if pool:
            x = layers.MaxPooling2D(pool)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="relu")(x)
    return keras.Model(inputs, outputs, name="cifar_cnn"), True


def resnet20(keras, layers):
    """ResNet-20 (He et al., 2016, the CIFAR variant) at half width, 8-16-32 filters: residual adds,
    1×1 projection shortcuts where the shape changes, global average pooling, logits out."""
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = conv_bn_relu(layers, x, 8)
    for stage, filters in enumerate([8, 16, 32]):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            y = conv_bn_relu(layers, x, filters, stride)
            y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
            y = layers.BatchNormalization()(y)
            if stride != 1 or x.shape[-1] != filters:
                x = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
                x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name="resnet20"), True


def mobilenet(keras, layers):
    """A MobileNet (Howard et al., 2017) for 32×32: a strided stem, depthwise-separable blocks with
    BatchNorm (momentum 0.9, so that two epochs settle its statistics) and ReLU6, global average
    pooling, Dropout, a softmax output."""
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(x))
    for filters, stride in [(32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1)]:
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(x))
        x = layers.Conv2D(filters, 1, use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(x))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mobilenet"), False


def applications(build):
    """A keras.applications network at 32×32×3 with ten classes, untouched but for a Rescaling
    to the [−1, 1] it expects in front (built on it, so the model stays flat) and its
    BatchNorm momentum lowered to 0.9, so that one epoch settles the statistics (at 0.99 the
    network answers one class for every test image after one epoch)."""
    def network(keras, layers):
        inputs = keras.Input((32, 32, 3))
        x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
        model = build(keras)(input_tensor=x, weights=None, classes=10)
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = 0.9
        return keras.Model(inputs, model.output, name=model.name), False
    return network


NETWORKS = {
    "vgg11-bn": (vgg11_bn, 4),
    "vgg13-relu-bn": (vgg13_relu_bn, 4),
    "cifar-cnn": (cifar_cnn, 2),
    "resnet20": (resnet20, 4),
    "mobilenet": (mobilenet, 2),
    # As users take them from keras.applications, briefly trained.
    "app-mobilenet": (applications(lambda keras: lambda **a: keras.applications.MobileNet(alpha=0.25, **a)), 1),
}


def train(out, names):
    import keras
    from keras import layers
    directory = os.path.join(out, "data")
    x, y, tx, ty = data(directory)
    summary_path = os.path.join(out, "zoo.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
    for name in names or NETWORKS:
        build, epochs = NETWORKS[name]
        keras.utils.set_random_seed(29)
        model, logits = build(keras, layers)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits), metrics=["accuracy"])
        started = time.time()
        model.fit(x, y, epochs=epochs, batch_size=128, verbose=2)
        seconds = time.time() - started
        path = os.path.join(out, f"{name}.h5")
        # Without the optimizer's state: a third of the size, the same network.
        model.save(path, include_optimizer=False)
        predicted = keras.models.load_model(path).predict(tx, verbose=0).argmax(axis=-1)
        np.save(os.path.join(directory, f"{name}-test-ann.npy"), predicted.astype(np.int64))
        summary[name] = {
            "test_accuracy": float((predicted == ty).mean()), "epochs": epochs,
            "training_images": len(x), "parameters": int(model.count_params()),
            "training_seconds": round(seconds), "keras": keras.__version__,
            "backend": keras.backend.backend()}
        print(f"{name}: test accuracy {summary[name]['test_accuracy']:.4f} ({seconds:.0f} s)", file=sys.stderr)
        with open(summary_path, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "data":
        data(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
