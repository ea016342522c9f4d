#!/usr/bin/env python3
"""Writes the Keras model fixtures the ModelIO tests read, with real Keras.

    python3 tools/make_keras_fixtures.py keras3   # Keras 3 (KERAS_BACKEND=jax): keras3_*.h5
    python3 tools/make_keras_fixtures.py keras2   # tf.keras 2 (tensorflow-cpu + tf-keras): keras2_*.h5
    python3 tools/make_keras_fixtures.py keras3 func_merge   # only the named ones (the others'
                                                             # random draws are still made)

Each model NAME.h5 comes with NAME.expected.h5 holding `inputs` (a small random batch) and
`outputs` (what model.predict returns for it, float32), and attributes recording the library
versions. The Keras 3 run also writes keras3_tiny.keras, a native zip archive. Weights are set to seeded random values (moving variances positive) so that every
parameter matters. Run from the repository root; outputs go to Tests/ModelIOTests/Fixtures/.
"""
import os
import sys

OUT = "Tests/ModelIOTests/Fixtures"


def models(keras, layers):
    """The fixture networks, as (name, model). Together they use every supported layer."""
    result = []

    m = keras.Sequential(name="mlp")
    m.add(keras.Input((12,)))
    for units, act in [(16, "relu"), (12, "gelu"), (10, "silu"), (10, "swish"), (9, "tanh"), (9, "sigmoid"),
                       (8, "softplus"), (8, "elu"), (7, "linear")]:
        m.add(layers.Dense(units, activation=act))
    m.add(layers.Dropout(0.3))
    m.add(layers.Dense(4, activation="softmax"))
    result.append(("seq_mlp", m))

    m = keras.Sequential(name="cnn")
    m.add(keras.Input((10, 9, 2)))
    m.add(layers.Conv2D(4, 3, padding="same", activation="relu"))
    m.add(layers.MaxPooling2D(2))
    m.add(layers.Conv2D(6, (2, 3), strides=(1, 2), padding="valid", use_bias=False))
    m.add(layers.BatchNormalization())
    m.add(layers.ReLU())
    m.add(layers.AveragePooling2D(pool_size=2, strides=1, padding="same"))
    m.add(layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"))
    m.add(layers.Flatten())
    m.add(layers.Dense(5))
    m.add(layers.Softmax())
    result.append(("seq_cnn", m))

    x = keras.Input((8, 8, 3), name="image")
    a = layers.Conv2D(4, 3, padding="same", name="conv_a")(x)
    a = layers.ReLU(max_value=6.0, name="relu6")(a)
    b = layers.Conv2D(4, 1, name="conv_b")(x)
    b = layers.LeakyReLU(name="leaky")(b)
    s = layers.Add(name="sum")([a, b])
    s = layers.BatchNormalization(name="bn")(s)
    c = layers.Concatenate(name="cat")([s, layers.ELU(alpha=0.7, name="elu")(b)])
    c = layers.ReLU(negative_slope=0.1, threshold=0.2, name="relu_thr")(c)
    g = layers.GlobalAveragePooling2D(name="gap")(c)
    r = layers.Reshape((2, 4), name="reshape")(g)
    r = layers.LayerNormalization(name="ln")(r)
    f = layers.Flatten(name="flat")(r)
    y = layers.Dense(6, activation="tanh", name="head")(f)
    y = layers.Activation("sigmoid", name="act")(y)
    result.append(("func_res", keras.Model(x, y, name="resnet_like")))

    x = keras.Input((10,), name="features")
    h = layers.Dense(16, name="fc1")(x)
    h = layers.LayerNormalization(epsilon=1e-5, name="norm1")(h)
    h = layers.Activation("gelu", name="gelu1")(h)
    h2 = layers.Dense(16, activation="silu", name="fc2")(h)
    h = layers.Add(name="residual")([h, h2])
    slope = {"negative_slope": 0.05} if keras.__version__.startswith("3") else {"alpha": 0.05}
    h = layers.LeakyReLU(name="leaky", **slope)(h)
    h = layers.Dropout(0.2, name="drop")(h)
    y = layers.Dense(3, name="logits")(h)
    result.append(("func_mlp", keras.Model(x, y, name="res_mlp")))

    # Colour images: preprocessing, padding, dilated, grouped, depthwise and separable
    # convolutions, PReLU, cropping, global max pooling.
    x = keras.Input((12, 12, 3), name="rgb")
    h = layers.Rescaling(0.5, offset=0.1, name="rescale")(x)
    h = layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(h)
    h = layers.Conv2D(4, 3, dilation_rate=2, activation="relu", name="dilated")(h)
    h = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu", name="depthwise")(h)
    h = layers.Conv2D(8, 3, groups=2, strides=2, padding="same", name="grouped")(h)
    h = layers.SeparableConv2D(6, 3, depth_multiplier=2, padding="same", name="separable")(h)
    h = layers.PReLU(shared_axes=[1, 2], name="prelu")(h)
    h = layers.Cropping2D(((1, 0), (0, 1)), name="crop")(h)
    m = layers.GlobalMaxPooling2D(name="gmax")(h)
    a = layers.Flatten(name="flat")(layers.GlobalAveragePooling2D(keepdims=True, name="gap")(h))
    y = layers.Dense(5, name="head")(layers.Concatenate(name="cat")([m, a]))
    result.append(("func_rgb", keras.Model(x, y, name="rgb_cnn")))

    # Sequences: normalization, causal, dilated, strided and grouped 1-D convolutions, 1-D
    # pooling, padding and cropping, Permute, global 1-D pooling, PReLU per unit.
    x = keras.Input((20, 3), name="sequence")
    h = layers.Normalization(axis=-1, name="norm")(x)
    h = layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu", name="causal")(h)
    h = layers.Conv1D(6, 3, strides=2, padding="same", groups=2, name="grouped1d")(h)
    h = layers.MaxPooling1D(2, name="max1d")(h)
    h = layers.ZeroPadding1D((1, 2), name="pad1d")(h)
    h = layers.Cropping1D((1, 0), name="crop1d")(h)
    h = layers.AveragePooling1D(2, padding="same", name="avg1d")(h)
    a = layers.GlobalAveragePooling1D(name="gap1d")(layers.Permute((2, 1), name="swap")(h))
    b = layers.Flatten(name="flat")(layers.GlobalMaxPooling1D(keepdims=True, name="gmax1d")(h))
    h = layers.Dense(6, name="fc")(layers.Concatenate(name="cat")([a, b]))
    h = layers.PReLU(name="prelu")(h)
    h = layers.Normalization(mean=0.2, variance=3.0, invert=True, name="denorm")(h)
    y = layers.Dense(3, name="out")(h)
    result.append(("func_seq", keras.Model(x, y, name="sequence_cnn")))

    if hasattr(layers, "RandomRotation") and hasattr(layers, "CenterCrop"):
        # Layers that only act while training (augmentation, noise, other dropouts), crops and
        # nearest up-sampling.
        x = keras.Input((12, 12, 3), name="photo")
        h = layers.RandomFlip(name="flip")(x)
        h = layers.RandomRotation(0.1, name="rotate")(h)
        h = layers.RandomContrast(0.2, name="contrast")(h)
        h = layers.GaussianNoise(0.1, name="noise")(h)
        h = layers.RandomCrop(12, 12, name="same_crop")(h)
        h = layers.CenterCrop(9, 10, name="center")(h)
        h = layers.Conv2D(4, 3, activation="relu", name="conv")(h)
        h = layers.UpSampling2D((2, 1), name="up")(h)
        h = layers.SpatialDropout2D(0.2, name="spatial_drop")(h)
        h = layers.GaussianDropout(0.1, name="gauss_drop")(h)
        h = layers.ActivityRegularization(l1=0.01, name="regularize")(h)
        y = layers.Dense(3, name="out")(layers.Flatten(name="flat")(h))
        result.append(("func_aug", keras.Model(x, y, name="augmented")))

    # Transfer learning: a pretrained base (itself holding a nested block) inside a Functional
    # model, a Sequential head, and a layer name the outer model uses too.
    x = keras.Input((10, 10, 3), name="pixels")
    h = layers.Conv2D(4, 3, padding="same", name="stem")(x)
    b = keras.Input((10, 10, 4), name="block_in")
    t = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(b)
    t = layers.BatchNormalization(name="bn")(t)
    block = keras.Model(b, layers.Add(name="add")([b, t]), name="block")
    h = block(h)
    h = layers.MaxPooling2D(2, name="pool")(h)
    base = keras.Model(x, layers.Activation("relu", name="relu")(h), name="base")
    inputs = keras.Input((10, 10, 3), name="image")
    h = layers.Rescaling(0.5, name="scale")(inputs)
    h = base(h, training=False)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    head = keras.Sequential([layers.Dense(6, activation="relu", name="fc"), layers.Dropout(0.2, name="drop"),
                             layers.Dense(3, name="conv")], name="head")
    y = head(h)
    result.append(("func_nested", keras.Model(inputs, y, name="transfer")))

    if flavour_is_keras3(keras):
        # Arithmetic with numbers, saved by Keras 3 as operations: hard sigmoid written out,
        # x·relu6(x + 3)/6's gate, then 1 − x, x / 2 and 2·x.
        x = keras.Input((6,), name="values")
        h = layers.Dense(5, name="fc")(x)
        g = layers.ReLU(6.0, name="relu6")(h + 3.0) * (1.0 / 6.0)
        y = layers.Dense(3, name="out")((2.0 * (1.0 - g)) / 2.0 - 0.25)
        result.append(("func_ops", keras.Model(x, y, name="arithmetic")))
        # MobileNetV3's activation by both its names, on images and on vectors; inputs scaled
        # up so that all three branches (0, the parabola, x) are taken.
        x = keras.Input((6, 6, 2), name="image")
        h = layers.Conv2D(4, 3, padding="same", name="conv")(layers.Rescaling(4.0, name="spread")(x))
        h = layers.Activation("hard_swish", name="hswish")(h)
        h = layers.DepthwiseConv2D(3, name="depthwise")(h)
        h = layers.Dense(4, activation="hard_silu", name="fc")(layers.GlobalAveragePooling2D(name="gap")(h))
        y = layers.Dense(3, name="out")(h)
        result.append(("func_hswish", keras.Model(x, y, name="hard_swish")))
        # Transposed convolutions as decoders and upsamplers write them: valid and same
        # padding, kernels larger and smaller than the stride, a fused activation, a BatchNorm
        # after one.
        x = keras.Input((5, 4, 3), name="code")
        h = layers.Conv2DTranspose(4, 3, strides=2, padding="valid", activation="relu", name="up_valid")(x)
        h = layers.Conv2DTranspose(5, (4, 3), strides=(2, 1), padding="same", name="up_same")(h)
        h = layers.BatchNormalization(name="bn")(h)
        h = layers.Conv2DTranspose(3, 2, strides=3, padding="same", use_bias=False, name="up_sparse")(h)
        y = layers.Dense(2, name="out")(layers.GlobalAveragePooling2D(name="gap")(h))
        result.append(("func_deconv", keras.Model(x, y, name="deconv")))
        # Merge layers over tensors of one shape: a difference, a product and a maximum of
        # three, a minimum, a mean of three.
        x = keras.Input((6,), name="values")
        a, b, c = (layers.Dense(5, name=n)(x) for n in ("a", "b", "c"))
        h = layers.Concatenate(name="merged")([
            layers.Subtract(name="difference")([a, b]), layers.Multiply(name="product")([a, b, c]),
            layers.Maximum(name="maximum")([a, b, c]), layers.Minimum(name="minimum")([a, c]),
            layers.Average(name="mean")([a, b, c])])
        y = layers.Dense(3, name="out")(h)
        result.append(("func_merge", keras.Model(x, y, name="merge")))
        # Squeeze-and-excitation gates as EfficientNet and MobileNetV3 write them: a 1×1×C gate
        # from 1×1 convolutions (swish, sigmoid) multiplying the image, and a C gate from Dense
        # layers (hard sigmoid) multiplying it from the other side.
        x = keras.Input((6, 5, 4), name="image")
        h = layers.Conv2D(8, 3, padding="same", activation="swish", name="stem")(x)
        g = layers.GlobalAveragePooling2D(name="squeeze")(h)
        g = layers.Reshape((1, 1, 8), name="to_map")(g)
        g = layers.Conv2D(3, 1, activation="swish", name="reduce")(g)
        g = layers.Conv2D(8, 1, activation="sigmoid", name="expand")(g)
        h = layers.Multiply(name="excite")([h, g])
        h = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="depthwise")(h)
        g = layers.Dense(2, activation="relu", name="fc_reduce")(layers.GlobalAveragePooling2D(name="gap2")(h))
        g = layers.Dense(8, activation="hard_sigmoid", name="fc_expand")(g)
        h = layers.Multiply(name="excite2")([g, h])
        y = layers.Dense(3, name="out")(layers.GlobalAveragePooling2D(name="gap3")(h))
        result.append(("func_se", keras.Model(x, y, name="squeeze_excite")))
    else:
        # tf.keras records TensorFlow functions called on its tensors as TFOpLambda layers:
        # arithmetic with numbers and with tensors, relu6, sigmoid, a reshape of constant shape
        # (a squeeze-and-excitation gate written inline, as tf.keras 2 users write it).
        import tensorflow as tf
        x = keras.Input((6, 5, 3), name="image")
        h = layers.Conv2D(8, 3, padding="same", name="conv")(x)
        h = tf.nn.relu6(h * 0.5 + 1.0)
        g = layers.Dense(8, name="gate_fc")(layers.GlobalAveragePooling2D(name="squeeze")(h))
        g = tf.reshape(tf.math.sigmoid(g), [-1, 1, 1, 8])
        h = h * g
        h = h + layers.Conv2D(8, 1, name="conv2")(h)
        h = tf.math.multiply(h - 0.25, 2.0) / 3.0
        h = 1.0 - h
        y = layers.Dense(3, name="out")(layers.GlobalAveragePooling2D(name="gap")(h))
        result.append(("func_tfop", keras.Model(x, y, name="tf_operations")))
    return result


def flavour_is_keras3(keras):
    return keras.__version__.startswith("3")


def randomize(model, rng):
    import numpy as np
    weights = []
    for w in model.weights:
        shape = tuple(w.shape)
        if w.name.split(":")[0].endswith("variance"):
            weights.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            weights.append((rng.standard_normal(shape) * 0.5).astype("float32"))
    model.set_weights(weights)


def main(flavour, only=()):
    import numpy as np
    import h5py
    if flavour == "keras3":
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras
        from keras import layers
        version = f"keras {keras.__version__}, backend {keras.backend.backend()}"
    elif flavour == "keras2":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as keras
        from tf_keras import layers
        import tensorflow as tf
        version = f"tf-keras {keras.__version__}, tensorflow {tf.__version__}"
    else:
        sys.exit("usage: make_keras_fixtures.py keras3|keras2")
    rng = np.random.default_rng(2024)
    for name, model in models(keras, layers):
        randomize(model, rng)
        shape = (4,) + tuple(model.input_shape[1:])
        inputs = rng.standard_normal(shape).astype("float32")
        if only and name not in only:
            continue
        path = f"{OUT}/{flavour}_{name}.h5"
        model.save(path)
        # Predict with the model as loaded from the file: a Normalization layer built before its
        # weights were set still normalizes with its initial statistics until it is reloaded.
        try:
            reloaded = keras.models.load_model(path)
        except ValueError:
            # Keras 3 saves operations on numbers (x + 3.0, x / 6.0) in .h5 files that it cannot
            # load back ("Unknown layer: 'TrueDivide'"): the model in memory answers instead.
            reloaded = model
        outputs = np.asarray(reloaded.predict(inputs, verbose=0), dtype="float32")
        with h5py.File(f"{OUT}/{flavour}_{name}.expected.h5", "w") as f:
            f["inputs"] = inputs
            f["outputs"] = outputs
            f.attrs["made_with"] = version
            f.attrs["numpy"] = np.__version__
        print(f"wrote {path} ({version})", file=sys.stderr)
    if flavour == "keras3" and not only:
        # PReLU with Keras's default shared_axes on images: one slope per pixel and channel,
        # which the reader refuses (no expected outputs: it is never evaluated).
        x = keras.Input((4, 4, 2))
        refused = keras.Model(x, layers.PReLU(name="prelu")(layers.Conv2D(3, 2, name="conv")(x)), name="prelu")
        refused.save(f"{OUT}/keras3_refused_prelu.h5")
        # A native .keras archive (a zip), to check that the reader names it instead of failing.
        tiny = keras.Sequential([keras.Input((2,)), layers.Dense(1)], name="tiny")
        tiny.save(f"{OUT}/keras3_tiny.keras")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "", tuple(sys.argv[2:]))
