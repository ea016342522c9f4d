#!/usr/bin/env python3
"""Writes the h5py-made HDF5 fixture that the HDF5 tests read.

The values follow simple formulas (documented beside each dataset and repeated in
Tests/HDF5Tests/H5pyInteropTests.swift) so the Swift side can check them without a copy of the
data. Run from the repository root:  python3 tools/make_hdf5_fixtures.py
"""
import sys

import h5py
import numpy as np

OUT = "Tests/HDF5Tests/Fixtures/h5py_types.h5"


def main() -> None:
    with h5py.File(OUT, "w", libver="earliest") as f:
        # Numeric datasets: value[i] = i * 0.5 - 3 (floats) or i - 3 (signed) or i (unsigned),
        # in row-major order, for these shapes and dtypes.
        f["f16"] = (np.arange(24).reshape(2, 3, 4) * 0.5 - 3).astype(np.float16)
        f["f32"] = (np.arange(12).reshape(3, 4) * 0.5 - 3).astype(np.float32)
        f["f64"] = (np.arange(5) * 0.5 - 3).astype(np.float64)
        f["i32"] = (np.arange(6).reshape(6, 1) - 3).astype(np.int32)
        f["i64"] = np.int64(-3)  # scalar dataset
        f["u8"] = np.arange(256, dtype=np.uint8).reshape(16, 16)
        f.create_dataset(
            "gz", data=(np.arange(1000) * 0.5 - 3).astype(np.float32), compression="gzip", chunks=(100,)
        )
        g = f.create_group("model_weights/dense/dense")
        g["kernel:0"] = np.zeros((2, 2), np.float32)

        # Strings in the three layouts Keras files use.
        f.attrs["utf8"] = "naïve ✓"  # variable-length UTF-8 (h5py's default for str)
        f.attrs.create("ascii_vlen", "plain", dtype=h5py.string_dtype("ascii"))
        f.attrs["fixed"] = np.bytes_(b"fixed-bytes")  # fixed-length |S11
        f.attrs["names_fixed"] = np.array([b"dense", b"conv2d_1", b""], dtype="S8")
        f.attrs["names_utf8"] = ["α", "beta", "gamma"]  # variable-length UTF-8 array
        f.attrs["empty_float"] = np.array([], dtype=np.float64)  # what Keras writes for no weights
        f.attrs["scalar_f"] = np.float32(1.5)
        f.attrs["vector_i"] = np.array([1, 2, 3], np.int64)
        f["edges"] = np.array([["a", "b"], ["b", "c"]], dtype=h5py.string_dtype("utf-8"))
    print(f"wrote {OUT} with h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}", file=sys.stderr)


if __name__ == "__main__":
    main()
