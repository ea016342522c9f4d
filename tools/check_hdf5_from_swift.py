#!/usr/bin/env python3
"""Checks, with h5py, a file the Swift HDF5 tests wrote (HDF5Tests: writtenFileReadsInH5py).

Exits non-zero with a message on the first difference. The expected values mirror the test.
"""
import sys

import h5py
import numpy as np


def check(cond: bool, what: str) -> None:
    if not cond:
        print(f"mismatch: {what}", file=sys.stderr)
        sys.exit(1)


def main(path: str) -> None:
    with h5py.File(path, "r") as f:
        for name, dtype in [("f16", np.float16), ("f32", np.float32), ("f64", np.float64),
                            ("i32", np.int32), ("i64", np.int64), ("u8", np.uint8)]:
            d = f["numbers/" + name]
            check(d.dtype == dtype, f"{name} dtype {d.dtype}")
            check(d.shape == (2, 3), f"{name} shape {d.shape}")
            check(np.array_equal(d[()], np.arange(6).reshape(2, 3).astype(dtype)), f"{name} values")
        gz = f["numbers/gz"]
        check(gz.compression == "gzip", "gz compression")
        check(np.array_equal(gz[()], np.arange(10000, dtype=np.float32) / 8), "gz values")
        check(f.attrs["utf8"] == "naïve ✓", "utf8 attribute")
        check(f.attrs["ascii"] == "plain", "ascii attribute")
        check(f.attrs["fixed"] == b"fixed", "fixed attribute")
        check(list(f.attrs["names"]) == ["dense", "conv2d_1"], "names attribute")
        check(float(f.attrs["scale"]) == 0.25, "scale attribute")
        edges = f["edges"][()]
        check(edges.shape == (2, 2), "edges shape")
        check([[e.decode() for e in row] for row in edges] == [["a", "b"], ["b", "c"]], "edges values")
        check(f["deep/er/path"][()] == 7, "nested dataset")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
