import Foundation
import HDF5
import TestSupport
import Testing

@Suite struct RoundTripTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("hdf5") }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func roundTrip<T: HDF5Scalar & Equatable>(_ values: [T], shape: [Int], gzip: Int? = nil) throws {
    let file = path("rt-\(T.self)-\(shape.count)-\(gzip ?? -1).h5")
    do {
      let root = try HDF5File.create(file).root
      try root.writeDataset("group/data", values: values, shape: shape, gzip: gzip)
    }
    let dataset = try HDF5File.open(file).root.dataset("group/data")
    #expect(try dataset.shape == shape)
    #expect(try dataset.elementType == T.hdf5ElementType)
    #expect(try dataset.read(as: T.self) == values)
  }

  @Test(arguments: [[], [7], [2, 3], [2, 3, 4], [1, 2, 1, 3]])
  func everyNumericTypeAndRank(shape: [Int]) throws {
    let count = shape.reduce(1, *)
    try roundTrip((0..<count).map { Float16(Double($0) * 0.5 - 2) }, shape: shape)
    try roundTrip((0..<count).map { Float($0) * 0.1 - 1 }, shape: shape)
    try roundTrip((0..<count).map { Double($0) * 0.1 - 1 }, shape: shape)
    try roundTrip((0..<count).map { Int32($0) - 5 }, shape: shape)
    try roundTrip((0..<count).map { Int64($0) << 40 }, shape: shape)
    try roundTrip((0..<count).map { UInt8($0 % 256) }, shape: shape)
  }

  @Test func specialFloatValuesSurvive() throws {
    let values: [Float] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
    try roundTrip(values, shape: [6])
    let file = path("nan.h5")
    try HDF5File.create(file).root.writeDataset("x", values: [Double.nan], shape: [1])
    #expect(try HDF5File.open(file).root.dataset("x").read(as: Double.self)[0].isNaN)
  }

  @Test func gzipCompressedAndEmptyDatasets() throws {
    try roundTrip((0..<100_000).map { Float($0 % 97) }, shape: [100, 1000], gzip: 4)
    try roundTrip([Float](), shape: [0, 3], gzip: 4)
    try roundTrip([Double](), shape: [0])
  }

  @Test func readingConvertsBetweenNumericTypes() throws {
    let file = path("convert.h5")
    try HDF5File.create(file).root.writeDataset("x", values: [1.5, -2.25] as [Float], shape: [2])
    let dataset = try HDF5File.open(file).root.dataset("x")
    #expect(try dataset.read(as: Double.self) == [1.5, -2.25])
    #expect(try dataset.read(as: Float16.self) == [1.5, -2.25])
  }

  @Test(arguments: [HDF5StringEncoding.variableUTF8, .variableASCII, .fixedASCII])
  func stringAttributesInEveryEncoding(encoding: HDF5StringEncoding) throws {
    let file = path("strings.h5")
    let text = encoding == .variableUTF8 ? "naïve ✓" : "plain text"
    do {
      let root = try HDF5File.create(file).root
      try root.writeAttribute("one", string: text, encoding: encoding)
      try root.writeAttribute("many", strings: ["dense", "conv2d_1", ""], encoding: encoding)
      try root.writeAttribute("none", strings: [], encoding: encoding)
    }
    let root = try HDF5File.open(file).root
    #expect(try root.readString("one") == text)
    #expect(try root.readStringAttribute("many") == ["dense", "conv2d_1", ""])
    #expect(try root.readStringAttribute("none") == [])
    #expect(try root.attributeInfo("one").shape == [])
    #expect(try root.attributeInfo("many") == (.string, [3]))
    #expect(try root.attributeNames() == ["many", "none", "one"])
  }

  @Test func numericAttributesAndReplacement() throws {
    let file = path("numbers.h5")
    do {
      let root = try HDF5File.create(file).root
      let group = try root.createGroup("a/b")
      try group.writeAttribute("scale", values: [0.5] as [Double])
      try group.writeAttribute("dims", values: [1, 2, 3, 4] as [Int64], shape: [2, 2])
      try group.writeAttribute("empty", values: [Float](), shape: [0])
      try group.writeAttribute("scale", values: [2] as [Int32])
    }
    let group = try HDF5File.open(file).root.group("a/b")
    #expect(try group.readAttribute("scale", as: Double.self) == [2])
    #expect(try group.attributeInfo("scale") == (.int32, []))
    #expect(try group.readAttribute("dims", as: Int64.self) == [1, 2, 3, 4])
    #expect(try group.attributeInfo("dims").shape == [2, 2])
    #expect(try group.readAttribute("empty", as: Float.self) == [])
  }

  @Test func stringDatasetsKeepTheirShape() throws {
    let file = path("edges.h5")
    for encoding in [HDF5StringEncoding.variableUTF8, .variableASCII, .fixedASCII] {
      try HDF5File.create(file).root.writeDataset(
        "edges", strings: ["in", "fc", "fc", "out"], shape: [2, 2], encoding: encoding)
      let dataset = try HDF5File.open(file).root.dataset("edges")
      #expect(try dataset.shape == [2, 2])
      #expect(try dataset.readStrings() == ["in", "fc", "fc", "out"])
    }
    try HDF5File.create(file).root.writeDataset("version", strings: ["1.0"], shape: [])
    #expect(try HDF5File.open(file).root.dataset("version").readStrings() == ["1.0"])
  }

  @Test func groupsListAndClassifyTheirChildren() throws {
    let file = path("tree.h5")
    do {
      let root = try HDF5File.create(file).root
      try root.writeDataset("model_weights/dense/dense/kernel:0", values: [1] as [Float], shape: [1])
      _ = try root.createGroup("model_weights/flatten")
      _ = try root.createGroup("model_weights/flatten")  // opening again is fine
    }
    let root = try HDF5File.open(file).root
    let weights = try root.group("model_weights")
    #expect(try weights.children() == ["dense", "flatten"])
    #expect(weights.kind(of: "dense") == .group)
    #expect(weights.kind(of: "dense/dense/kernel:0") == .dataset)
    #expect(weights.kind(of: "missing/deeper") == nil)
    #expect(weights.path == "/model_weights")
    #expect(
      try weights.group("dense/dense").dataset("kernel:0").path == "/model_weights/dense/dense/kernel:0")
  }

  @Test func objectsOutliveTheirFileHandle() throws {
    let file = path("lifetime.h5")
    try HDF5File.create(file).root.writeDataset("x", values: [3] as [Int64], shape: [1])
    let dataset = try HDF5File.open(file).root.dataset("x")
    #expect(try dataset.read(as: Int64.self) == [3])
  }

  @Test func concurrentUseIsSerialized() async throws {
    let base = path("concurrent")
    try await withThrowingTaskGroup(of: Void.self) { group in
      for task in 0..<8 {
        group.addTask {
          let file = "\(base)-\(task).h5"
          let values = (0..<1000).map { Double($0 * task) }
          try HDF5File.create(file).root.writeDataset("v", values: values, shape: [1000], gzip: 1)
          let back = try HDF5File.open(file).root.dataset("v").read(as: Double.self)
          #expect(back == values)
        }
      }
      try await group.waitForAll()
    }
  }
}

@Suite struct AttributeDeletionTests {
  @Test func deletedAttributesAreGone() throws {
    let file = try makeTemporaryDirectory("hdf5-delete").appendingPathComponent("d.h5").path
    let root = try HDF5File.create(file).root
    try root.writeAttribute("a", string: "x")
    try root.deleteAttribute("a")
    #expect(!root.hasAttribute("a"))
    #expect(throws: HDF5Error.notFound(file: file, path: "/@a")) { try root.deleteAttribute("a") }
  }
}
