#!/usr/bin/env python3
"""PyTorch models in, checked the way a PyTorch user would: export with torch.onnx.export, run
onnxruntime, read the same file with `snnconv eval`, compare; then convert and simulate.

Needs torch, torchvision, onnx, onnxruntime and onnxscript (a few GB: not a test dependency).
Writes into OUT_DIR (default .build/torch-onnx):

- torch-cnn.onnx: a small CNN written in functional style (F.relu, F.max_pool2d, F.avg_pool2d,
  x.view(x.size(0), -1)), trained here for two epochs on Fashion-MNIST;
- torch-gelu-mlp.onnx: an MLP with nn.GELU and nn.LayerNorm, trained likewise;
- resnet18.onnx, mobilenet_v2.onnx: torchvision's architectures with 10 classes at 32×32×3,
  trained for one epoch (EPOCHS=N in the environment: N) on the 5,000 tinted images of
  tools/make_zoo.py;
- vgg11_bn.onnx: torchvision's VGG-11-BN at its own 224×224 (the tinted images repeated 7×7),
  weights as torchvision initializes them and BatchNorm statistics gathered on 128 images (a
  forward pass in training mode, no gradient step);
- vgg11_bn_cifar.onnx: the same architecture as people adapt it to 32×32 images (the adaptive
  pooling, which would spread 1×1 over 7×7, replaced by the identity, and the classifier's
  layers sized for 512 features), trained for two epochs on the tinted images;

each exported twice, by the default (dynamo) exporter and by the TorchScript one (`-ts`
suffix), and the data as N×C×H×W .npz files (fmnist-*.npz 28×28×1, tinted-*.npz 32×32×3 from
tools/make_zoo.py's data); then prints, per file, onnxruntime against `snnconv eval --outputs`:
the largest difference relative to the largest output, and the share of images with the same
class. The results table of docs/onnx.md is copied from this output.

    python3 tools/torch_onnx_check.py [OUT_DIR [MODEL ...]]

Naming models (torch-cnn, torch-gelu-mlp, resnet18, vgg11_bn, vgg11_bn_cifar, mobilenet_v2)
builds and checks only those.
"""

import gzip
import os
import subprocess
import sys

import numpy as np
import onnxruntime
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "torch-onnx"))
ONLY = set(sys.argv[2:])
# Epochs for the 32×32 torchvision models (environment variable EPOCHS; docs/onnx.md used 1 and 6).
EPOCHS = int(os.environ.get("EPOCHS", "1"))
FMNIST = "/usr/share/datasets/fashion-mnist"
torch.manual_seed(20261207)


def idx(name):
    for base in [FMNIST, "/usr/share/dataset-fashion-mnist"]:
        path = os.path.join(base, name)
        if os.path.exists(path):
            with gzip.open(path) as f:
                data = f.read()
            dims = data[3]
            shape = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(dims)]
            return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)
    raise SystemExit(f"Fashion-MNIST ({name}) not found: apt-get install dataset-fashion-mnist")


class FunctionalCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 3 * 3, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.avg_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc2(F.relu(self.fc1(x)))


class GELUMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.GELU(), nn.LayerNorm(256),
                                 nn.Linear(256, 128), nn.GELU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)


def train(model, x, y, epochs=2):
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 128):
            batch = order[start:start + 128]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    model.eval()
    return model


def export(model, example, path, dynamo):
    model.eval()
    kwargs = dict(input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    if dynamo:
        torch.onnx.export(model, (example,), path, dynamo=True, external_data=False, **kwargs)
    else:
        torch.onnx.export(model, (example,), path, dynamo=False, opset_version=17, **kwargs)


def snnconv():
    subprocess.run(["swift", "build", "-c", "release", "--product", "snnconv"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    return os.path.join(path, "snnconv")


def compare(tool, model_path, data_path, x):
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    expected = np.concatenate([session.run(None, {session.get_inputs()[0].name: x[i:i + 100]})[0]
                               for i in range(0, len(x), 100)])
    csv = model_path + ".outputs.csv"
    run = subprocess.run([tool, "eval", model_path, "--data", data_path, "--outputs", csv], capture_output=True,
                         text=True)
    if run.returncode != 0:
        return f"refused: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}"
    ours = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float32).reshape(expected.shape)
    relative = np.abs(ours - expected).max() / np.abs(expected).max()
    same = (ours.argmax(1) == expected.argmax(1)).mean()
    return f"max |diff| / max |output| {relative:.2e}, same class {same * 100:.1f} %"


def main():
    os.makedirs(OUT, exist_ok=True)
    tool = snnconv()
    images = idx("train-images-idx3-ubyte.gz")
    labels = idx("train-labels-idx1-ubyte.gz").astype(np.int64)
    test_images = idx("t10k-images-idx3-ubyte.gz")
    test_labels = idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    x = torch.tensor(images[:20000, None].astype(np.float32) / 255)
    y = torch.tensor(labels[:20000])
    fm_test = test_images[:1000, None].astype(np.float32) / 255
    np.savez(os.path.join(OUT, "fmnist-test.npz"), x=fm_test, y=test_labels[:1000])
    np.savez(os.path.join(OUT, "fmnist-train.npz"), x=images[:2000, None].astype(np.float32) / 255,
             y=labels[:2000])

    zoo = os.path.join(ROOT, ".build", "zoo-data")
    if not os.path.exists(os.path.join(zoo, "test-x.npy")):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_zoo.py"), "data", zoo], check=True)
    tinted_train = np.load(os.path.join(zoo, "train-x.npy")).astype(np.float32).transpose(0, 3, 1, 2) / 255
    tinted_labels = np.load(os.path.join(zoo, "train-y.npy")).astype(np.int64)
    tinted_test = np.load(os.path.join(zoo, "test-x.npy"))[:1000].astype(np.float32).transpose(0, 3, 1, 2) / 255
    np.savez(os.path.join(OUT, "tinted-test.npz"), x=tinted_test, y=np.load(os.path.join(zoo, "test-y.npy"))[:1000])
    np.savez(os.path.join(OUT, "tinted-train.npz"), x=tinted_train[:2000],
             y=np.load(os.path.join(zoo, "train-y.npy"))[:2000])

    def wanted(name):
        return not ONLY or name in ONLY

    models = {}
    if wanted("torch-cnn"):
        models["torch-cnn"] = (train(FunctionalCNN(), x, y), torch.zeros(1, 1, 28, 28), "fmnist")
    if wanted("torch-gelu-mlp"):
        models["torch-gelu-mlp"] = (train(GELUMLP(), x, y), torch.zeros(1, 1, 28, 28), "fmnist")
    # VGG at its own 224×224 (at 32×32 its adaptive pooling from 1×1 to 7×7 is not an export
    # people make): the tinted images repeated 7×7, 100 of them.
    big = np.repeat(np.repeat(tinted_test[:100], 7, axis=2), 7, axis=3)
    np.savez(os.path.join(OUT, "tinted224-test.npz"), x=big, y=np.load(os.path.join(zoo, "test-y.npy"))[:100])
    for name, size, data, count in [("resnet18", 32, "tinted", 512), ("vgg11_bn", 224, "tinted224", 128),
                                    ("mobilenet_v2", 32, "tinted", 512)]:
        if not wanted(name):
            continue
        model = getattr(torchvision.models, name)(weights=None, num_classes=10)
        if size == 32:
            # Trained for one epoch on the 5,000 tinted training images: enough to tell classes
            # apart, so that agreement with the ANN means something.
            train(model, torch.tensor(tinted_train), torch.tensor(tinted_labels), epochs=EPOCHS)
        else:
            model.train()
            statistics = torch.tensor(tinted_train[:count])
            statistics = statistics.repeat_interleave(size // 32, 2).repeat_interleave(size // 32, 3)
            with torch.no_grad():
                for start in range(0, count, 32):
                    model(statistics[start:start + 32])
        models[name] = (model.eval(), torch.zeros(1, 3, size, size), data)
    if wanted("vgg11_bn_cifar"):
        # VGG-11-BN as CIFAR code adapts torchvision's: 32×32 leaves 512 features of 1×1.
        model = torchvision.models.vgg11_bn(weights=None, num_classes=10)
        model.avgpool = nn.Identity()
        model.classifier = nn.Sequential(nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(), nn.Linear(512, 512),
                                         nn.ReLU(True), nn.Dropout(), nn.Linear(512, 10))
        train(model, torch.tensor(tinted_train), torch.tensor(tinted_labels), epochs=2)
        models["vgg11_bn_cifar"] = (model.eval(), torch.zeros(1, 3, 32, 32), "tinted")

    for name, (model, example, data) in models.items():
        for suffix, dynamo in [("", True), ("-ts", False)]:
            path = os.path.join(OUT, f"{name}{suffix}.onnx")
            try:
                export(model, example, path, dynamo)
            except Exception as error:  # an exporter that fails is reported, the others go on
                print(f"{name}{suffix}: export failed: {type(error).__name__}: {error}".splitlines()[0])
                continue
            test = {"fmnist": fm_test, "tinted": tinted_test, "tinted224": big}[data]
            size = os.path.getsize(path) / 1e6
            print(f"{name}{suffix} ({size:.1f} MB): {compare(tool, path, os.path.join(OUT, data + '-test.npz'), test)}",
                  flush=True)


if __name__ == "__main__":
    main()
