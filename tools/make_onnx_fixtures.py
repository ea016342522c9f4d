#!/usr/bin/env python3
"""Writes the ONNX test models of Tests/ModelIOTests/Fixtures/onnx/ and what onnxruntime
computes for them.

Each model is built with onnx.helper node by node in the form `torch.onnx.export` (opset 13–20)
gives the same network: NCHW images, weights as initializers, `x.view(x.size(0), -1)` as a
Shape → Gather → Unsqueeze → Concat → Reshape subgraph, ReLU6 as Clip with min/max inputs,
GELU written out with Erf by older exporters or as Gelu at opset 20. Weights are seeded random
numbers. For each model NAME.onnx the script writes NAME-input.npy (8 seeded images or vectors)
and NAME-expected.npy (onnxruntime's output for them), which the tests compare the toolkit's
evaluation with. It also writes the malformed files the hostile-input tests read.

    python3 tools/make_onnx_fixtures.py [OUT_DIR]
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "Tests", "ModelIOTests", "Fixtures", "onnx")
rng = np.random.default_rng(20261207)


class Builder:
    """Nodes and initializers of one graph, named as torch names them (/layer/Op)."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def weight(self, name, shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        value = rng.normal(0, scale if scale is not None else (2.0 / fan_in) ** 0.5, shape).astype(np.float32)
        return self.const(name, value)

    def const(self, name, value):
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type, inputs, name=None, **attributes):
        self.count += 1
        name = name or f"/{op_type.lower()}_{self.count}/{op_type}"
        output = f"{name}_output_0"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attributes))
        return output

    def conv(self, x, cin, cout, k, stride=1, pad=0, group=1, bias=True, tag="conv"):
        self.count += 1
        w = self.weight(f"{tag}{self.count}.weight", [cout, cin // group, k, k])
        inputs = [x, w] + ([self.weight(f"{tag}{self.count}.bias", [cout], 0.1)] if bias else [])
        return self.op("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group,
                       dilations=[1, 1])

    def bn(self, x, c):
        self.count += 1
        p = f"bn{self.count}"
        return self.op("BatchNormalization", [
            x, self.const(p + ".weight", rng.uniform(0.5, 1.5, c).astype(np.float32)),
            self.const(p + ".bias", rng.normal(0, 0.1, c).astype(np.float32)),
            self.const(p + ".running_mean", rng.normal(0, 0.1, c).astype(np.float32)),
            self.const(p + ".running_var", rng.uniform(0.5, 2, c).astype(np.float32))], epsilon=1e-5, momentum=0.9)

    def gemm(self, x, fin, fout):
        self.count += 1
        return self.op("Gemm", [x, self.weight(f"fc{self.count}.weight", [fout, fin]),
                                self.weight(f"fc{self.count}.bias", [fout], 0.1)], alpha=1.0, beta=1.0, transB=1)

    def view_flat(self, x):
        """`x.view(x.size(0), -1)` as torch exports it."""
        shape = self.op("Shape", [x])
        batch = self.op("Gather", [shape, self.const(f"gather_index{self.count}", np.array(0, dtype=np.int64))], axis=0)
        batch = self.op("Unsqueeze", [batch, self.const(f"unsqueeze_axes{self.count}", np.array([0], dtype=np.int64))])
        target = self.op("Concat", [batch, self.const(f"minus_one{self.count}", np.array([-1], dtype=np.int64))], axis=0)
        return self.op("Reshape", [x, target])

    def model(self, x_name, x_shape, y, opset):
        graph = helper.make_graph(
            self.nodes, "main_graph",
            [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, ["batch"] + x_shape)],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["batch", 10])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytorch")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def cnn():
    """A small CNN in functional style: conv/relu/max_pool, conv/relu/avg_pool, PReLU per channel,
    view, Linear, PReLU with one slope, Linear."""
    b = Builder()
    x = b.conv("input", 3, 8, 3, pad=1)
    x = b.op("Relu", [x])
    x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0)
    x = b.conv(x, 8, 16, 3, pad=1)
    x = b.op("Relu", [x])
    x = b.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0,
             count_include_pad=0)
    x = b.op("PRelu", [x, b.const("prelu.weight", rng.uniform(0.05, 0.3, (16, 1, 1)).astype(np.float32))])
    x = b.view_flat(x)
    x = b.gemm(x, 16 * 4 * 4, 32)
    x = b.op("PRelu", [x, b.const("prelu2.weight", np.array([0.25], np.float32))])
    x = b.gemm(x, 32, 10)
    return b.model("input", [3, 16, 16], x, 13), [3, 16, 16]


def resnet():
    """A ResNet stem and basic block: 7×7/2 conv, BN, ReLU, 3×3/2 max pool padded 1, a residual
    block, global average pooling, flatten, Linear."""
    b = Builder()
    x = b.conv("input", 3, 8, 7, stride=2, pad=3, bias=False)
    x = b.op("Relu", [b.bn(x, 8)])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    skip = x
    y = b.op("Relu", [b.bn(b.conv(x, 8, 8, 3, pad=1, bias=False), 8)])
    y = b.bn(b.conv(y, 8, 8, 3, pad=1, bias=False), 8)
    x = b.op("Relu", [b.op("Add", [y, skip])])
    down = b.bn(b.conv(x, 8, 16, 1, stride=2, bias=False), 16)
    y = b.op("Relu", [b.bn(b.conv(x, 8, 16, 3, stride=2, pad=1, bias=False), 16)])
    y = b.bn(b.conv(y, 16, 16, 3, pad=1, bias=False), 16)
    x = b.op("Relu", [b.op("Add", [y, down])])
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    x = b.gemm(x, 16, 10)
    return b.model("input", [3, 32, 32], x, 17), [3, 32, 32]


def mobilenet():
    """MobileNet-style blocks: depthwise conv, ReLU6 as Clip, hard-sigmoid, arithmetic with
    constants, zero padding, average pooling that counts padding, ReduceMean, softmax."""
    b = Builder()
    x = b.op("Div", [b.op("Sub", ["input", b.const("mean", np.full((1, 3, 1, 1), 0.5, np.float32))]),
                     b.const("std", np.array([0.25, 0.5, 0.75], np.float32).reshape(1, 3, 1, 1))])
    x = b.op("Clip", [b.bn(b.conv(x, 3, 8, 3, stride=2, pad=1, bias=False), 8),
                      b.const("zero", np.array(0, np.float32)), b.const("six", np.array(6, np.float32))])
    x = b.op("Clip", [b.bn(b.conv(x, 8, 8, 3, pad=1, group=8, bias=False), 8),
                      b.const("zero2", np.array(0, np.float32)), b.const("six2", np.array(6, np.float32))])
    x = b.bn(b.conv(x, 8, 16, 1, bias=False), 16)
    x = b.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)
    x = b.op("Mul", [x, b.const("gain", np.float32(2.0))])
    x = b.op("Pad", [x, b.const("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], mode="constant")
    x = b.op("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=1)
    x = b.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
    x = b.op("Flatten", [x], axis=1)
    x = b.gemm(x, 16, 10)
    x = b.op("Softmax", [x], axis=1)
    return b.model("input", [3, 16, 16], x, 13), [3, 16, 16]


def mlp():
    """An MLP with GELU (opset 20's Gelu), LayerNorm, MatMul + Add, LeakyReLU, tanh and sigmoid."""
    b = Builder()
    x = b.op("Flatten", ["input"], axis=1)
    x = b.op("Add", [b.op("MatMul", [x, b.weight("w1", [16, 32], 0.3)]), b.weight("b1", [32], 0.1)])
    x = b.op("Gelu", [x])
    x = b.op("LayerNormalization", [x, b.const("ln.weight", rng.uniform(0.5, 1.5, 32).astype(np.float32)),
                                    b.const("ln.bias", rng.normal(0, 0.1, 32).astype(np.float32))], axis=-1,
             epsilon=1e-5)
    x = b.op("LeakyRelu", [b.gemm(x, 32, 24)], alpha=0.1)
    x = b.op("Tanh", [b.gemm(x, 24, 24)])
    x = b.op("Sigmoid", [b.gemm(x, 24, 16)])
    x = b.gemm(x, 16, 10)
    return b.model("input", [1, 4, 4], x, 20), [1, 4, 4]


def mlp_erf():
    """GELU written out with Erf, as torch.onnx.export writes nn.GELU() below opset 20, in an MLP
    whose second GELU multiplies by 0.5 first."""
    b = Builder()
    x = b.op("Flatten", ["input"], axis=1)
    x = b.gemm(x, 16, 32)
    erf = b.op("Erf", [b.op("Div", [x, b.const("sqrt2", np.array(1.4142135381698608, np.float32))])])
    x = b.op("Mul", [b.op("Mul", [x, b.op("Add", [erf, b.const("one", np.array(1.0, np.float32))])]),
                     b.const("half", np.array(0.5, np.float32))])
    x = b.gemm(x, 32, 32)
    erf = b.op("Erf", [b.op("Mul", [x, b.const("rsqrt2", np.array(0.7071067811865476, np.float32))])])
    x = b.op("Mul", [b.op("Mul", [x, b.const("half2", np.array(0.5, np.float32))]),
                     b.op("Add", [b.const("one2", np.array(1.0, np.float32)), erf])])
    x = b.gemm(x, 32, 10)
    return b.model("input", [1, 4, 4], x, 17), [1, 4, 4]


def ops():
    """The operators the other fixtures do not use: a dilated convolution, auto_pad SAME_UPPER,
    Elu, Softplus, HardSwish (inputs spread over its three branches), Identity, Dropout, Transpose, Concat of images, GlobalMaxPool, Squeeze and
    Unsqueeze of tensors, LeakyReLU on images, Add and Sub with the tensor second."""
    b = Builder()
    x = b.op("Identity", ["input"])
    a = b.op("Elu", [b.op("Conv", [x, b.weight("dil.weight", [4, 3, 3, 3])], kernel_shape=[3, 3], pads=[2, 2, 2, 2],
                              dilations=[2, 2])], alpha=0.5)
    c = b.op("Softplus", [b.op("Conv", [x, b.weight("same.weight", [4, 3, 3, 3]), b.weight("same.bias", [4], 0.1)],
                                 kernel_shape=[3, 3], auto_pad="SAME_UPPER")])
    c = b.op("HardSwish", [b.op("Mul", [c, b.const("spread", np.float32(4.0))])])
    x = b.op("Concat", [a, c], axis=1)
    x = b.op("Dropout", [x])
    x = b.op("LeakyRelu", [x], alpha=0.2)
    x = b.op("Div", [b.op("Add", [b.const("three", np.float32(3.0)), x]), b.const("divisor", np.float32(2.5))])
    x = b.op("Sub", [b.const("one_s", np.float32(1.0)), x])
    g = b.op("GlobalMaxPool", [x])
    g = b.op("Squeeze", [g, b.const("squeeze_axes", np.array([2, 3], np.int64))])
    g = b.op("Unsqueeze", [g, b.const("unsqueeze_axes2", np.array([2], np.int64))])
    g = b.op("Transpose", [g], perm=[0, 2, 1])
    g = b.op("Flatten", [g], axis=1)
    x = b.gemm(g, 8, 10)
    return b.model("input", [3, 12, 12], x, 14), [3, 12, 12]


def deconv():
    """Transposed convolutions as PyTorch writes nn.ConvTranspose2d: DCGAN's k = 4, s = 2, p = 1;
    k = 3, s = 2, p = 1 with output_padding 1 (the usual "same" doubling); k = 3, s = 2 without
    padding and output_padding 1, whose extra row past the whole output holds the bias alone;
    k = 2, s = 2 with SAME_UPPER and no bias."""
    b = Builder()
    x = b.op("Relu", [b.conv("input", 3, 4, 3, pad=1)])
    x = b.op("ConvTranspose", [x, b.weight("up1.weight", [4, 6, 4, 4]), b.weight("up1.bias", [6], 0.1)],
             kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.op("ConvTranspose", [b.op("Relu", [x]), b.weight("up2.weight", [6, 5, 3, 3]), b.weight("up2.bias", [5], 0.1)],
             strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    x = b.op("ConvTranspose", [x, b.weight("up3.weight", [5, 4, 3, 3]), b.weight("up3.bias", [4], 0.5)],
             strides=[2, 1], output_padding=[1, 0])
    x = b.op("ConvTranspose", [x, b.weight("up4.weight", [4, 3, 2, 2])], strides=[2, 2], auto_pad="SAME_UPPER")
    x = b.gemm(b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1), 3, 10)
    return b.model("input", [3, 3, 4], x, 17), [3, 3, 4]


def merge():
    """Arithmetic on two tensors of the network of one shape, as PyTorch exports `a - b`, `a * b`
    and `a / b`: Sub, Mul and Div (the divisor kept away from zero by ReLU + 1)."""
    b = Builder()
    x = b.op("Flatten", ["input"], axis=1)
    first, second = b.gemm(x, 16, 6), b.gemm(x, 16, 6)
    divisor = b.op("Add", [b.op("Relu", [second]), b.const("one", np.float32(1.0))])
    x = b.op("Concat", [b.op("Sub", [first, second]), b.op("Mul", [first, second]), b.op("Div", [first, divisor])],
             axis=1)
    return b.model("input", [1, 4, 4], b.gemm(x, 18, 10), 17), [1, 4, 4]


def squeeze_excite():
    """Squeeze-and-excitation gates as torchvision's MobileNetV3 and EfficientNet export them:
    GlobalAveragePool, two 1×1 Conv with ReLU (SiLU written as x · Sigmoid(x) for the second
    block), a Hardsigmoid or Sigmoid gate of N×C×1×1, and Mul of the gate and the image — gate
    first in one block, image first in the other."""
    b = Builder()
    x = b.op("Relu", [b.conv("input", 3, 8, 3, pad=1)])
    g = b.op("Relu", [b.conv(b.op("GlobalAveragePool", [x]), 8, 4, 1)])
    g = b.op("HardSigmoid", [b.conv(g, 4, 8, 1)], alpha=1.0 / 6, beta=0.5)
    x = b.op("Mul", [g, x])
    x = b.op("Relu", [b.conv(x, 8, 8, 3, pad=1, group=8)])
    g = b.conv(b.op("GlobalAveragePool", [x]), 8, 2, 1)
    g = b.op("Mul", [g, b.op("Sigmoid", [g])])
    g = b.op("Sigmoid", [b.conv(g, 2, 8, 1)])
    x = b.op("Mul", [x, g])
    x = b.gemm(b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1), 8, 10)
    return b.model("input", [3, 6, 5], x, 17), [3, 6, 5]


def write(name, model, shape):
    path = os.path.join(OUT, name + ".onnx")
    onnx.save_model(model, path)
    images = rng.normal(0, 1, [8] + shape).astype(np.float32)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input": images})[0]
    np.save(os.path.join(OUT, name + "-input.npy"), images)
    np.save(os.path.join(OUT, name + "-expected.npy"), expected.astype(np.float32))
    print(f"{path}: {len(model.graph.node)} nodes, output {expected.shape}")


def malformed(cnn_model):
    """Files the reader must refuse with a message naming what is wrong."""
    data = cnn_model.SerializeToString()
    with open(os.path.join(OUT, "bad-truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])
    # A length prefix claiming about 2 GB for the graph (field 7, wire type 2).
    with open(os.path.join(OUT, "bad-huge-length.onnx"), "wb") as f:
        f.write(bytes([0x08, 0x08, 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07]) + data[:64])
    # Nodes out of order: the first reads what the second produces (a cycle to a reader that
    # follows the list).
    m = onnx.ModelProto()
    m.CopyFrom(cnn_model)
    nodes = [onnx.NodeProto() for _ in m.graph.node]
    for copy, node in zip(nodes, m.graph.node):
        copy.CopyFrom(node)
    nodes[0], nodes[1] = nodes[1], nodes[0]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save_model(m, os.path.join(OUT, "bad-order.onnx"))
    # A weight whose data does not match its dims.
    m = onnx.ModelProto()
    m.CopyFrom(cnn_model)
    w = m.graph.initializer[0]
    w.dims[0] = w.dims[0] * 2
    onnx.save_model(m, os.path.join(OUT, "bad-dims.onnx"))
    # An operator the toolkit does not read.
    m = onnx.ModelProto()
    m.CopyFrom(cnn_model)
    for node in m.graph.node:
        if node.op_type == "Relu":
            node.op_type = "Selu"
            break
    onnx.save_model(m, os.path.join(OUT, "bad-op.onnx"))
    # Weights in an external file.
    m = onnx.ModelProto()
    m.CopyFrom(cnn_model)
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    onnx.save_model(m, os.path.join(OUT, "bad-external.onnx"))


def external(cnn_model):
    """The CNN with its weights in an external data file, as torch.onnx.export writes by default,
    and one whose external data location leaves the model's directory."""
    m = onnx.ModelProto()
    m.CopyFrom(cnn_model)
    onnx.save_model(m, os.path.join(OUT, "cnn-external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="cnn-external.onnx.data", size_threshold=0)
    m = onnx.load(os.path.join(OUT, "cnn-external.onnx"), load_external_data=False)
    for tensor in m.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../cnn-external.onnx.data"
    onnx.save_model(m, os.path.join(OUT, "bad-external-location.onnx"))


def refused():
    """Networks that are valid ONNX but hold what the toolkit does not convert exactly."""
    b = Builder()
    x = b.conv("input", 3, 4, 3, pad=1)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.gemm(b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1), 4, 10)
    onnx.save_model(b.model("input", [3, 8, 8], x, 13), os.path.join(OUT, "bad-maxpool-padding.onnx"))
    b = Builder()
    x = b.op("ConvTranspose", [b.conv("input", 3, 4, 3, pad=1), b.weight("up.weight", [4, 2, 2, 2])],
             kernel_shape=[2, 2], strides=[2, 2], group=2)
    x = b.gemm(b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1), 4, 10)
    onnx.save_model(b.model("input", [3, 8, 8], x, 14), os.path.join(OUT, "bad-convtranspose.onnx"))


def main():
    os.makedirs(OUT, exist_ok=True)
    models = {"cnn": cnn(), "resnet": resnet(), "mobilenet": mobilenet(), "mlp": mlp(), "mlp-erf": mlp_erf(), "ops": ops()}
    for name, (model, shape) in models.items():
        write(name, model, shape)
    malformed(models["cnn"][0])
    refused()
    # Made after the others so that their weights and inputs stay as they were.
    write("deconv", *deconv())
    external(models["cnn"][0])
    write("merge", *merge())
    write("squeeze-excite", *squeeze_excite())


if __name__ == "__main__":
    main()
