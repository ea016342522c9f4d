"""PyTorch CPU training throughput on the same presets and protocol as `train-bench`.

One case per call, so that tools/bench can alternate it with ours:

    python tools/peer_training.py mlp|cnn [threads]

Prints one JSON line: {"model", "precision", "images_per_second", "seconds"}. The protocol is
train-bench's: the first 7,680 Fashion-MNIST training images (Debian's dataset-fashion-mnist,
scaled to [0, 1]), batch 128, Adam (lr 1e-3), softmax cross-entropy, one warm-up pass over 1,280
images, then one timed epoch (60 batches, shuffled), float32. Architectures are the toolkit's
presets (docs/training.md): mlp = 784-256-256-256-10 with ReLU; cnn = Conv 3×3 32 'same', ReLU,
MaxPool 2, Conv 3×3 64 'same', ReLU, MaxPool 2, Dense 128, ReLU, Dense 10.
"""

import json
import sys
import time

import torch
from torch import nn

from peer_data import fashion_mnist


def model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    raise SystemExit(f"unknown model {name!r} (mlp, cnn)")


def epoch(network, optimizer, images, labels, generator):
    loss_function = nn.CrossEntropyLoss()
    order = torch.randperm(len(labels), generator=generator)
    for start in range(0, len(labels), 128):
        batch = order[start:start + 128]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(network(images[batch]), labels[batch])
        loss.backward()
        optimizer.step()


def main():
    name = sys.argv[1]
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    images, labels = fashion_mnist("train", 7680)
    network = model(name)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    epoch(network, optimizer, images[:1280], labels[:1280], generator)
    start = time.perf_counter()
    epoch(network, optimizer, images, labels, generator)
    seconds = time.perf_counter() - start
    print(json.dumps({"model": name, "precision": "float32", "images_per_second": len(labels) / seconds,
                      "seconds": seconds}))


if __name__ == "__main__":
    main()
