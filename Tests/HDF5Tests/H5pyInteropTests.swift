import Foundation
import HDF5
import TestSupport
import Testing

/// Files crossing between this module and h5py, the reference HDF5 library for Python.
@Suite struct H5pyInteropTests {
  /// Written by `tools/make_hdf5_fixtures.py` (h5py 3.16, bundled HDF5 2.0); values follow the
  /// formulas given there.
  let fixture = repositoryRoot.appendingPathComponent("Tests/HDF5Tests/Fixtures/h5py_types.h5").path

  @Test func readsNumericDatasetsWrittenByH5py() throws {
    let root = try HDF5File.open(fixture).root
    let expectations: [(String, HDF5ElementType, [Int])] = [
      ("f16", .float16, [2, 3, 4]), ("f32", .float32, [3, 4]), ("f64", .float64, [5]),
      ("i32", .int32, [6, 1]), ("i64", .int64, []), ("u8", .uint8, [16, 16]), ("gz", .float32, [1000]),
    ]
    for (name, type, shape) in expectations {
      let dataset = try root.dataset(name)
      #expect(try dataset.elementType == type, "\(name)")
      #expect(try dataset.shape == shape, "\(name)")
    }
    func halves(_ count: Int) -> [Double] { (0..<count).map { Double($0) * 0.5 - 3 } }
    #expect(try root.dataset("f16").read(as: Float16.self) == halves(24).map { Float16($0) })
    #expect(try root.dataset("f32").read(as: Float.self) == halves(12).map { Float($0) })
    #expect(try root.dataset("f64").read(as: Double.self) == halves(5))
    #expect(try root.dataset("gz").read(as: Double.self) == halves(1000))
    #expect(try root.dataset("i32").read(as: Int32.self) == (0..<6).map { Int32($0) - 3 })
    #expect(try root.dataset("i64").read(as: Int64.self) == [-3])
    #expect(try root.dataset("u8").read(as: UInt8.self) == (0..<256).map { UInt8($0) })
    #expect(try root.dataset("model_weights/dense/dense/kernel:0").shape == [2, 2])
  }

  @Test func readsStringsInEveryLayoutH5pyWrites() throws {
    let root = try HDF5File.open(fixture).root
    #expect(try root.readString("utf8") == "naïve ✓")
    #expect(try root.readString("ascii_vlen") == "plain")
    #expect(try root.readString("fixed") == "fixed-bytes")
    #expect(try root.readStringAttribute("names_fixed") == ["dense", "conv2d_1", ""])
    #expect(try root.readStringAttribute("names_utf8") == ["α", "beta", "gamma"])
    #expect(try root.attributeInfo("empty_float") == (.float64, [0]))
    #expect(try root.readAttribute("empty_float", as: Double.self) == [])
    #expect(try root.readAttribute("scalar_f", as: Float.self) == [1.5])
    #expect(try root.readAttribute("vector_i", as: Int64.self) == [1, 2, 3])
    #expect(try root.dataset("edges").readStrings() == ["a", "b", "b", "c"])
  }

  @Test(.enabled(if: pythonHas("h5py", "numpy"), "needs python3 with h5py and numpy"))
  func writtenFileReadsInH5py() throws {
    let file = try makeTemporaryDirectory("h5py").appendingPathComponent("from-swift.h5").path
    do {
      let root = try HDF5File.create(file).root
      let numbers = try root.createGroup("numbers")
      try numbers.writeDataset("f16", values: (0..<6).map { Float16($0) }, shape: [2, 3])
      try numbers.writeDataset("f32", values: (0..<6).map { Float($0) }, shape: [2, 3])
      try numbers.writeDataset("f64", values: (0..<6).map { Double($0) }, shape: [2, 3])
      try numbers.writeDataset("i32", values: (0..<6).map { Int32($0) }, shape: [2, 3])
      try numbers.writeDataset("i64", values: (0..<6).map { Int64($0) }, shape: [2, 3])
      try numbers.writeDataset("u8", values: (0..<6).map { UInt8($0) }, shape: [2, 3])
      try numbers.writeDataset("gz", values: (0..<10000).map { Float($0) / 8 }, shape: [10000], gzip: 6)
      try root.writeAttribute("utf8", string: "naïve ✓")
      try root.writeAttribute("ascii", string: "plain", encoding: .variableASCII)
      try root.writeAttribute("fixed", string: "fixed", encoding: .fixedASCII)
      try root.writeAttribute("names", strings: ["dense", "conv2d_1"])
      try root.writeAttribute("scale", values: [0.25] as [Float])
      try root.writeDataset("edges", strings: ["a", "b", "b", "c"], shape: [2, 2])
      try root.writeDataset("deep/er/path", values: [7] as [Int64], shape: [])
    }
    let script = repositoryRoot.appendingPathComponent("tools/check_hdf5_from_swift.py").path
    let result = try runProcess("python3", [script, file])
    #expect(result.status == 0, "\(result.output)")
  }
}
