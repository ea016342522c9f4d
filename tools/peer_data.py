"""Fashion-MNIST from the Debian package as PyTorch tensors, for the peer benchmark scripts."""

import gzip

import numpy as np
import torch

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def fashion_mnist(split, count):
    """The first `count` images of `split` ("train" or "test") as (N, 1, 28, 28) floats in
    [0, 1], and their labels."""
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(f"{FASHION_MNIST}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:count]
    with gzip.open(f"{FASHION_MNIST}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:count]
    return (torch.from_numpy(images.astype(np.float32) / 255),
            torch.from_numpy(labels.astype(np.int64)))
