import Datasets
import Foundation
import TestSupport
import Testing

/// Images and labels in NumPy (`.npz` stored and compressed, `.npy` pairs) and HDF5 arrays,
/// written by numpy and h5py themselves; damaged and mistaken files refused naming them.
@Suite(.enabled(if: pythonHas("numpy", "h5py"), "needs python3 with numpy and h5py"))
struct ArrayDataTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("arrays") }

  /// Runs `script` with numpy as `np`, h5py, and `d` the test directory (ending in `/`).
  func python(_ script: String) throws {
    let run = try runProcess(
      "/usr/bin/env",
      [
        "python3", "-c",
        "import sys, numpy as np, h5py\nd = sys.argv[1] + '/'\nrng = np.random.default_rng(5)\n" + script,
        directory.path,
      ])
    #expect(run.status == 0, "\(run.output)")
  }

  func load(_ text: String, split: Split = .test, limit: Int? = nil, channelsFirst: Bool = false) throws
    -> LabeledImages
  {
    let paths =
      text.hasSuffix(".npy")
      ? text.split(separator: ",").map { directory.path + "/" + $0 } : [directory.path + "/" + text]
    var source = try DataSource(parsing: paths.joined(separator: ","))
    if case .arrays(var arrays) = source {
      arrays.channelsFirst = channelsFirst
      source = .arrays(arrays)
    }
    return try source.load(split, limit: limit)
  }

  @Test func everyContainerGivesTheSameImagesAndLabels() throws {
    // Six 4×3 RGB images (float32 and uint8), labels 0…4.
    try python(
      """
      x = rng.random((6, 4, 3, 3), dtype=np.float32)
      y = np.array([3, 0, 4, 1, 1, 2])
      np.save(d + 'x.npy', x); np.save(d + 'y.npy', y)
      np.savez(d + 'stored.npz', x=x, y=y)
      np.savez_compressed(d + 'keras.npz', x_train=x[:2], y_train=y[:2], x_test=x, y_test=np.eye(5)[y])
      np.savez(d + 'named.npz', images=x.transpose(0, 3, 1, 2), labels=y.astype(np.uint8))
      with h5py.File(d + 'data.h5', 'w') as f:
          f['x'] = x; f['y'] = y.astype(np.int32); f.create_group('g')['pixels'] = (x * 255).astype(np.uint8)
      np.save(d + 'x-float.npy', x.reshape(6, -1).astype('>f8'))
      """)
    let reference = try load("x.npy,y.npy")
    #expect(reference.images.shape == [6, 4, 3, 3] && reference.labels == [3, 0, 4, 1, 1, 2])
    #expect(reference.classNames == ["0", "1", "2", "3", "4"])
    for (text, channelsFirst) in [
      ("stored.npz", false), ("keras.npz", false), ("named.npz:images,labels", true), ("data.h5", false),
      ("data.h5:/x,/y", false),
    ] {
      let loaded = try load(text, channelsFirst: channelsFirst)
      #expect(loaded.images.shape == [6, 4, 3, 3], "\(text)")
      #expect(loaded.images.scalars == reference.images.scalars, "\(text)")
      #expect(loaded.labels == reference.labels, "\(text)")
    }
    // Keras's layout: the split picks the arrays.
    #expect(try load("keras.npz", split: .train).labels == [3, 0])
    #expect(try load("keras.npz").name.hasSuffix("keras.npz/test"))
    // Big-endian float64, N×F: one value per feature, the values as stored.
    let flat = try load("x-float.npy,y.npy")
    #expect(flat.images.shape == [6, 36, 1, 1])
    #expect(zip(flat.images.scalars, reference.images.scalars).allSatisfy { $0 == $1 })
    // uint8 in a nested group, as stored (0…255), and a limit.
    let bytes = try load("data.h5:/g/pixels,/y", limit: 4)
    #expect(bytes.count == 4 && bytes.images.scalars.max()! > 1)
  }

  @Test(arguments: [
    ("missing.npz", "np.savez(d + 'missing.npz', images=np.zeros((2, 2, 2)))", "no arrays 'x' and 'y'"),
    (
      "count.npz", "np.savez(d + 'count.npz', x=np.zeros((3, 2, 2)), y=np.zeros(2, np.int64))",
      "holds 3 images but"
    ),
    (
      "fortran.npz",
      "np.savez(d + 'fortran.npz', x=np.asfortranarray(np.zeros((2, 3, 4))), y=np.zeros(2, int))", "Fortran"
    ),
    ("negative.npz", "np.savez(d + 'negative.npz', x=np.zeros((2, 2, 2)), y=np.array([0, -1]))", "label -1"),
    (
      "fraction.npz", "np.savez(d + 'fraction.npz', x=np.zeros((2, 2, 2)), y=np.array([0, 0.5]))",
      "whole numbers"
    ),
    (
      "nan.npz", "np.savez(d + 'nan.npz', x=np.full((2, 2, 2), np.nan), y=np.array([0, 1]))", "must be finite"
    ),
    (
      "truncated.npz",
      "np.savez_compressed(d + 't.npz', x=rng.random((50, 8, 8)), y=np.zeros(50, int)); b = open(d + 't.npz', 'rb').read(); open(d + 'truncated.npz', 'wb').write(b[:len(b) // 2])",
      "not a readable zip archive"
    ),
    (
      "flipped.npz",
      "np.savez(d + 'f.npz', x=np.ones((4, 8, 8)), y=np.zeros(4, int)); b = bytearray(open(d + 'f.npz', 'rb').read()); b[200] ^= 0xFF; open(d + 'flipped.npz', 'wb').write(bytes(b))",
      "CRC does not match"
    ),
    (
      "complex.npz", "np.savez(d + 'complex.npz', x=np.zeros((2, 2), complex), y=np.zeros(2, int))",
      "not one this reader knows"
    ),
  ])
  func badArraysAreRefusedNamingTheFile(file: String, script: String, expected: String) throws {
    try python(script)
    let error = #expect(throws: DatasetError.self) { try load(file) }
    #expect("\(error!)".contains(expected), "\(error!)")
    #expect("\(error!)".contains(file), "\(error!)")
  }

  @Test func namesThatAreNotThereAreListed() throws {
    try python("np.savez(d + 'a.npz', images=np.zeros((2, 2, 2)), labels=np.zeros(2, int))")
    let error = #expect(throws: DatasetError.self) { try load("a.npz:pixels,labels") }
    #expect("\(error!)".contains("no array 'pixels'; it holds: images, labels"), "\(error!)")
  }
}
