"""SpikingJelly's converted-SNN simulation throughput on the same weights and images as `sim-bench`.

    python tools/peer_simulation.py MODEL.h5 [IMAGES] [STEPS] [BATCH] [THREADS]

Rebuilds the Keras model (sequential stacks of Conv2D, Dense, ReLU, max/average pooling and
Flatten, as the toolkit's models are) in PyTorch with the weights of MODEL.h5, converts it with
SpikingJelly 0.0.0.0.14's `ann2snn.Converter(mode='max')` — integrate-and-fire neurons,
per-layer maximum activations from the first 1,000 Fashion-MNIST training images, the
calibration `sim-bench` uses — and simulates the first IMAGES test images (default 1,000) for
STEPS steps (64) in batches of BATCH (100) on THREADS threads (2), the analog image presented at
every step. Only the simulation is timed. Prints one JSON line: image·steps per second,
seconds, the SNN's accuracy at STEPS and the ANN's.
"""

import json
import sys
import time

import h5py
import numpy as np
import torch
from spikingjelly.activation_based import ann2snn, functional
from torch import nn

from peer_data import fashion_mnist


class ChannelsLast(nn.Module):
    """NCHW → NHWC, so that Flatten keeps Keras's (H, W, C) order and Dense weights apply as stored."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1)


def keras_to_torch(path):
    file = h5py.File(path, "r")
    layers = json.loads(file.attrs["model_config"])["config"]["layers"]
    weights = file["model_weights"]
    modules = []

    def parameters(name):
        group = weights[name][name]
        return group["kernel"][()], (group["bias"][()] if "bias" in group else None)

    def activation(name):
        if name == "relu":
            modules.append(nn.ReLU())
        elif name not in (None, "linear"):
            raise SystemExit(f"activation {name!r} is not converted by this script")

    for layer in layers:
        kind, config = layer["class_name"], layer["config"]
        if kind == "InputLayer":
            continue
        if kind == "Conv2D":
            kernel, bias = parameters(config["name"])
            conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], tuple(config["kernel_size"]),
                             stride=tuple(config["strides"]), padding=config["padding"],
                             bias=bias is not None)
            conv.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            if bias is not None:
                conv.bias.data = torch.from_numpy(bias)
            modules.append(conv)
            activation(config.get("activation"))
        elif kind == "Dense":
            kernel, bias = parameters(config["name"])
            dense = nn.Linear(kernel.shape[0], kernel.shape[1], bias=bias is not None)
            dense.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))
            if bias is not None:
                dense.bias.data = torch.from_numpy(bias)
            modules.append(dense)
            activation(config.get("activation"))
        elif kind == "Activation":
            activation(config["activation"])
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            pool = nn.MaxPool2d if kind == "MaxPooling2D" else nn.AvgPool2d
            modules.append(pool(tuple(config["pool_size"]), stride=tuple(config["strides"])))
        elif kind == "Flatten":
            modules += [ChannelsLast(), nn.Flatten()]
        else:
            raise SystemExit(f"layer {kind} is not converted by this script")
    return nn.Sequential(*modules).eval()


def main():
    path = sys.argv[1]
    count, steps, batch, threads = (int(a) for a in (sys.argv[2:] + ["1000", "64", "100", "2"][len(sys.argv) - 2:]))
    torch.set_num_threads(threads)
    ann = keras_to_torch(path)
    calibration, _ = fashion_mnist("train", 1000)
    images, labels = fashion_mnist("test", count)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(calibration, torch.zeros(len(calibration))), batch_size=100)
    with torch.no_grad():
        ann_correct = sum(int((ann(images[s:s + batch]).argmax(1) == labels[s:s + batch]).sum())
                          for s in range(0, count, batch))
        snn = ann2snn.Converter(mode="max", dataloader=loader)(ann)
        correct = 0
        start = time.perf_counter()
        for s in range(0, count, batch):
            x = images[s:s + batch]
            functional.reset_net(snn)
            total = 0
            for _ in range(steps):
                total = total + snn(x)
            correct += int((total.argmax(1) == labels[s:s + batch]).sum())
        seconds = time.perf_counter() - start
    print(json.dumps({"model": path, "images": count, "steps": steps, "batch": batch, "threads": threads,
                      "image_steps_per_second": count * steps / seconds, "seconds": seconds,
                      "accuracy": correct / count, "ann_accuracy": ann_correct / count}))


if __name__ == "__main__":
    main()
