#!/usr/bin/env python3
"""An independent float64 evaluation of a Keras HDF5 model, written from the layer formulas
with numpy alone, to check how close Keras's own float32 predictions are to exact arithmetic.

    python3 tools/numpy_reference.py MODEL.h5 EXPECTED.h5

EXPECTED.h5 holds `inputs` and Keras's `outputs` (tools/make_keras_fixtures.py). Prints the
largest absolute difference between this float64 evaluation and Keras's outputs. It shares no
code with the toolkit; it covers the layers of the fixture models.
"""
import json
import math
import sys

import h5py
import numpy as np

ERF = np.vectorize(math.erf)


def activation(name, x):
    if isinstance(name, dict):
        name = name.get("config") if isinstance(name.get("config"), str) else name.get("class_name")
    return {
        "linear": lambda v: v,
        "relu": lambda v: np.maximum(v, 0),
        "relu6": lambda v: np.clip(v, 0, 6),
        "gelu": lambda v: 0.5 * v * (1 + ERF(v / math.sqrt(2))),
        "silu": lambda v: v / (1 + np.exp(-v)),
        "swish": lambda v: v / (1 + np.exp(-v)),
        "hard_silu": lambda v: v * np.clip(v + 3, 0, 6) / 6,
        "hard_sigmoid": lambda v: np.clip(v + 3, 0, 6) / 6,  # Keras 3's definition
        "hard_swish": lambda v: v * np.clip(v + 3, 0, 6) / 6,
        "tanh": np.tanh,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
        "softplus": lambda v: np.log1p(np.exp(-np.abs(v))) + np.maximum(v, 0),
        "elu": lambda v: np.where(v > 0, v, np.expm1(v)),
        "leaky_relu": lambda v: np.where(v >= 0, v, 0.2 * v),
        "softmax": softmax,
    }[name](x)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def pads(size, k, s, mode):
    if mode == "valid":
        return (size - k) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def conv2d(x, kernel, strides, mode, dilation=(1, 1), groups=1):
    """Cross-correlation with a (kh, kw, c/groups, co) kernel; dilated taps, grouped channels."""
    n, h, w, c = x.shape
    kh, kw, cg, co = kernel.shape
    sh, sw = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    oh, top, bottom = pads(h, sh, strides[0], mode)
    ow, left, right = pads(w, sw, strides[1], mode)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    y = np.zeros((n, oh, ow, co))
    fg = co // groups
    for i in range(oh):
        for j in range(ow):
            r, q = i * strides[0], j * strides[1]
            patch = xp[:, r:r + sh:dilation[0], q:q + sw:dilation[1], :]
            for g in range(groups):
                y[:, i, j, g * fg:(g + 1) * fg] = np.einsum(
                    "nabc,abco->no", patch[..., g * cg:(g + 1) * cg], kernel[..., g * fg:(g + 1) * fg])
    return y


def conv2d_transpose(x, kernel, strides, mode):
    """Keras's Conv2DTranspose, kernel (kh, kw, filters, c), by its definition: every input pixel
    adds kernel·x to the output window it maps to; `same` keeps H·s rows starting at the top
    padding the forward convolution would have, ⌊max(k − s, 0)/2⌋."""
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    sh, sw = strides
    full = np.zeros((n, (h - 1) * sh + kh, (w - 1) * sw + kw, f))
    for i in range(h):
        for j in range(w):
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :] += np.einsum("nc,abfc->nabf", x[:, i, j, :], kernel)
    if mode == "valid":
        return full
    top, left = max(kh - sh, 0) // 2, max(kw - sw, 0) // 2
    out = np.zeros((n, h * sh, w * sw, f))
    rows, cols = min(h * sh, full.shape[1] - top), min(w * sw, full.shape[2] - left)
    out[:, :rows, :cols, :] = full[:, top:top + rows, left:left + cols, :]
    return out


def depthwise(x, kernel, strides, mode, dilation):
    """Keras's depthwise convolution: kernel (kh, kw, c, m), output channel c·m + j."""
    kh, kw, c, m = kernel.shape
    return conv2d(x, kernel.reshape(kh, kw, 1, c * m), strides, mode, dilation, groups=c)


def sides(v, dims):
    """Keras padding/cropping amounts as [(before, after)] per dimension."""
    if isinstance(v, int):
        return [(v, v)] * dims
    if dims == 1:
        return [tuple(v)]
    return [(a, a) if isinstance(a, int) else tuple(a) for a in v]


def pool(x, size, strides, mode, kind):
    n, h, w, c = x.shape
    oh, top, _ = pads(h, size[0], strides[0], mode)
    ow, left, _ = pads(w, size[1], strides[1], mode)
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * strides[0] - top, j * strides[1] - left
            window = x[:, max(r0, 0):min(r0 + size[0], h), max(c0, 0):min(c0 + size[1], w), :]
            y[:, i, j, :] = window.max(axis=(1, 2)) if kind == "max" else window.mean(axis=(1, 2))
    return y


def pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def one(v):
    return v if isinstance(v, int) else v[0]


def weights(group, layer):
    if layer not in group:
        return {}
    g = group[layer]
    names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs.get("weight_names", [])]
    return {n.split("/")[-1].split(":")[0]: np.asarray(g[n], dtype=np.float64) for n in names}


def broadcast(inputs):
    """The inputs of a merge layer given the rank of the largest by axes inserted after the
    batch, as Keras's merge layers do (a squeeze-and-excitation gate N×C against N×H×W×C)."""
    rank = max(x.ndim for x in inputs)
    return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]


def apply(layer, inputs, w):
    cls, cfg = layer["class_name"], layer["config"]
    x = inputs[0]
    if cls == "Dense":
        y = x @ w["kernel"] + w.get("bias", 0)
        return activation(cfg.get("activation", "linear"), y)
    act = lambda y: activation(cfg.get("activation", "linear"), y + w.get("bias", 0))
    if cls == "Conv2D":
        return act(conv2d(x, w["kernel"], pair(cfg.get("strides", 1)), cfg.get("padding", "valid"),
                          pair(cfg.get("dilation_rate", 1)), cfg.get("groups", 1)))
    if cls == "Conv2DTranspose":
        return act(conv2d_transpose(x, w["kernel"], pair(cfg.get("strides", 1)), cfg.get("padding", "valid")))
    if cls == "DepthwiseConv2D":
        kernel = w.get("depthwise_kernel", w.get("kernel"))
        return act(depthwise(x, kernel, pair(cfg.get("strides", 1)), cfg.get("padding", "valid"),
                             pair(cfg.get("dilation_rate", 1))))
    if cls == "SeparableConv2D":
        y = depthwise(x, w["depthwise_kernel"], pair(cfg.get("strides", 1)), cfg.get("padding", "valid"),
                      pair(cfg.get("dilation_rate", 1)))
        return act(conv2d(y, w["pointwise_kernel"], (1, 1), "valid"))
    if cls == "Conv1D":
        k, rate = w["kernel"].shape[0], one(cfg.get("dilation_rate", 1))
        mode = cfg.get("padding", "valid")
        if mode == "causal":
            x, mode = np.pad(x, ((0, 0), ((k - 1) * rate, 0), (0, 0))), "valid"
        y = conv2d(x[:, None], w["kernel"][None], (1, one(cfg.get("strides", 1))), mode, (1, rate),
                   cfg.get("groups", 1))
        return act(y[:, 0])
    if cls in ("MaxPooling1D", "AveragePooling1D"):
        size = one(cfg["pool_size"])
        stride = one(cfg["strides"]) if cfg.get("strides") else size
        kind = "max" if cls.startswith("Max") else "avg"
        return pool(x[:, None], (1, size), (1, stride), cfg.get("padding", "valid"), kind)[:, 0]
    if cls in ("GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        axes = (1, 2) if cls.endswith("2D") else (1,)
        y = x.max(axis=axes, keepdims=True) if "Max" in cls else x.mean(axis=axes, keepdims=True)
        return y if cfg.get("keepdims") else y.reshape(len(x), -1)
    if cls in ("ZeroPadding2D", "ZeroPadding1D"):
        amounts = sides(cfg["padding"], 2 if cls.endswith("2D") else 1)
        return np.pad(x, [(0, 0)] + amounts + [(0, 0)])
    if cls in ("Cropping2D", "Cropping1D"):
        amounts = sides(cfg["cropping"], 2 if cls.endswith("2D") else 1)
        index = (slice(None),) + tuple(slice(a, x.shape[d + 1] - b) for d, (a, b) in enumerate(amounts))
        return x[index]
    if cls == "UpSampling2D":
        rows, columns = pair(cfg["size"])
        return x.repeat(rows, axis=1).repeat(columns, axis=2)
    if cls == "Permute":
        return x.transpose([0] + list(cfg["dims"]))
    if cls == "Rescaling":
        return x * np.asarray(cfg["scale"]) + np.asarray(cfg["offset"])
    if cls == "Normalization":
        mean = w["mean"] if "mean" in w else np.asarray(cfg["mean"], dtype=np.float64)
        var = w["variance"] if "variance" in w else np.asarray(cfg["variance"], dtype=np.float64)
        if cfg.get("invert"):
            return mean + x * np.sqrt(var)
        return (x - mean) / np.maximum(np.sqrt(var), 1e-7)
    if cls == "PReLU":
        return np.where(x >= 0, x, w["alpha"] * x)
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        size = pair(cfg["pool_size"])
        strides = pair(cfg["strides"]) if cfg.get("strides") else size
        return pool(x, size, strides, cfg.get("padding", "valid"), "max" if cls.startswith("Max") else "avg")
    if cls == "GlobalAveragePooling2D":
        return x.mean(axis=(1, 2))
    if cls == "Flatten":
        return x.reshape(len(x), -1)
    if cls == "Reshape":
        return x.reshape((len(x),) + tuple(cfg["target_shape"]))
    if cls == "BatchNormalization":
        return w.get("gamma", 1) * (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) + w.get("beta", 0)
    if cls == "LayerNormalization":
        m, v = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
        return w.get("gamma", 1) * (x - m) / np.sqrt(v + cfg["epsilon"]) + w.get("beta", 0)
    if cls == "Dropout" or cls.startswith("Random") and cls != "RandomCrop" or cls in (
            "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "SpatialDropout2D",
            "SpatialDropout3D", "ActivityRegularization"):
        return x  # identities at inference
    if cls in ("CenterCrop", "RandomCrop"):
        if (cfg["height"], cfg["width"]) == x.shape[1:3]:
            return x
        top, left = (x.shape[1] - cfg["height"]) // 2, (x.shape[2] - cfg["width"]) // 2
        return x[:, top:top + cfg["height"], left:left + cfg["width"]]
    if cls == "Add":
        return sum(inputs)
    if cls == "Subtract":
        return inputs[0] - inputs[1]
    if cls == "Multiply":
        result, *rest = broadcast(inputs)
        for x in rest:
            result = result * x
        return result
    if cls == "Maximum":
        return np.max(inputs, axis=0)
    if cls == "Minimum":
        return np.min(inputs, axis=0)
    if cls == "Average":
        return np.mean(inputs, axis=0)
    if cls == "Concatenate":
        return np.concatenate(inputs, axis=cfg.get("axis", -1))
    if cls == "Activation":
        return activation(cfg["activation"], x)
    if cls == "Softmax":
        return softmax(x)
    if cls == "ELU":
        return np.where(x > 0, x, cfg.get("alpha", 1.0) * np.expm1(x))
    if cls == "LeakyReLU":
        slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))
        return np.where(x >= 0, x, slope * x)
    if cls == "ReLU":
        top, slope, thr = cfg.get("max_value"), cfg.get("negative_slope", 0.0), cfg.get("threshold", 0.0)
        y = np.where(x >= thr, x, slope * (x - thr))
        return np.minimum(y, top) if top is not None else y
    raise SystemExit(f"layer class {cls} not covered by this reference")


def history(node):
    """Layer names an inbound node refers to, Keras 2 or Keras 3 form."""
    names = []

    def walk(v):
        if isinstance(v, dict):
            if v.get("class_name") == "__keras_tensor__":
                names.append(v["config"]["keras_history"][0])
            else:
                for item in v.values():
                    walk(item)
        elif isinstance(v, list):
            if len(v) >= 3 and isinstance(v[0], str) and isinstance(v[1], int):
                names.append(v[0])
            else:
                for item in v:
                    walk(item)
    walk(node)
    return names


def nested_weights(group, model):
    """Weights of the layers of a nested model, by layer name: Keras keeps them in the nested
    model's group, named `layer/weight` (Functional) or `model/layer/weight` (Sequential)."""
    if model not in group:
        return lambda layer: {}
    g = group[model]
    names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs.get("weight_names", [])]

    def lookup(layer):
        return {n.split("/")[-1].split(":")[0]: np.asarray(g[n], dtype=np.float64)
                for n in names if len(n.split("/")) >= 2 and n.split("/")[-2] == layer}
    return lookup


def tf_operation(layer, values):
    """A tf.keras 2 TFOpLambda layer: the TensorFlow function named in its config applied to the
    call's first argument (a tensor, or `_CONSTANT_VALUE` with a number) and its keyword
    arguments (`y` a tensor reference or a number, `shape`)."""
    function = layer["config"]["function"]
    first, _, constant, keywords = (layer["inbound_nodes"][0] + [{}])[:4]
    x = constant if first == "_CONSTANT_VALUE" else values[first]
    y = keywords.get("y")
    if isinstance(y, list):
        y = values[y[0]]
    binary = {"__operators__.add": np.add, "math.add": np.add, "math.subtract": np.subtract,
              "__operators__.sub": np.subtract, "math.multiply": np.multiply, "__operators__.mul": np.multiply,
              "math.truediv": np.true_divide, "__operators__.truediv": np.true_divide,
              "math.divide": np.true_divide}
    if function in binary:
        return binary[function](x, y)
    if function == "reshape":
        return np.reshape(x, [x.shape[0]] + list(keywords["shape"][1:]))
    names = {"nn.relu": "relu", "nn.relu6": "relu6", "math.sigmoid": "sigmoid", "nn.sigmoid": "sigmoid",
             "math.tanh": "tanh", "nn.silu": "silu", "nn.swish": "silu"}
    if function in names:
        return activation(names[function], x)
    raise SystemExit(f"TFOpLambda function {function} not covered by this reference")


def run_model(config, inputs, lookup, nested):
    """Evaluates a Sequential or Functional config on `inputs` (one array per input layer);
    `lookup(layer)` gives a layer's weights, `nested(model)` the lookup inside a nested model."""
    layers = config["config"]["layers"]

    def call(layer, xs, name):
        if layer["class_name"] in ("Sequential", "Functional", "Model"):
            inner = nested(name)
            return run_model(layer, xs, inner, lambda model: inner)
        return apply(layer, xs, lookup(name))
    if config["class_name"] == "Sequential":
        x = inputs[0]
        for layer in layers:
            if layer["class_name"] != "InputLayer":
                x = call(layer, [x], layer["config"]["name"])
        return x
    values = {}
    feed = iter(inputs)
    for layer in layers:
        name = layer.get("name", layer["config"]["name"])
        if layer["class_name"] == "InputLayer":
            values[name] = next(feed)
            continue
        if layer["class_name"] == "TFOpLambda":
            values[name] = tf_operation(layer, values)
            continue
        args = layer["inbound_nodes"][0].get("args", []) if layer["inbound_nodes"] and isinstance(
            layer["inbound_nodes"][0], dict) else []
        if any(isinstance(a, (int, float)) for a in args):
            # A Keras 3 operation on a tensor and a number (x + 3.0, 1.0 - x, x / 6.0 …).
            operands = [a if isinstance(a, (int, float)) else values[a["config"]["keras_history"][0]]
                        for a in args]
            op = {"Add": np.add, "Subtract": np.subtract, "Multiply": np.multiply,
                  "TrueDivide": np.true_divide, "Divide": np.true_divide}[layer["class_name"]]
            values[name] = op(*operands)
            continue
        values[name] = call(layer, [values[s] for s in history(layer["inbound_nodes"])], name)
    outputs = config["config"]["output_layers"]
    last = outputs[0] if isinstance(outputs[0], str) else outputs[0][0]
    return values[last]


def evaluate(model_path, inputs):
    with h5py.File(model_path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        group = f["model_weights"]
        # A nested model's weights are all in the outermost nested model's group.
        return run_model(config, [inputs], lambda layer: weights(group, layer),
                         lambda model: nested_weights(group, model))


def main(model_path, expected_path):
    with h5py.File(expected_path, "r") as f:
        inputs = np.asarray(f["inputs"], dtype=np.float64)
        keras_outputs = np.asarray(f["outputs"], dtype=np.float64)
    ours = evaluate(model_path, inputs)
    print(f"{float(np.abs(ours - keras_outputs).max()):.3e}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
