import Foundation
import HDF5
import TestSupport
import Testing

@Suite struct ErrorTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("hdf5-errors") }
  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  @Test func missingFileIsNamed() {
    let file = path("absent.h5")
    #expect(throws: HDF5Error.cannotOpen(file: file, reason: "no such file")) {
      try HDF5File.open(file)
    }
  }

  @Test func nonHDF5FileIsRefused() throws {
    let file = path("text.h5")
    try "not hdf5 at all".write(toFile: file, atomically: true, encoding: .utf8)
    let error = #expect(throws: HDF5Error.self) { try HDF5File.open(file) }
    #expect(error?.description.contains("not an HDF5 file") == true)
    #expect(error?.description.contains(file) == true)
  }

  @Test func truncatedFileIsAnErrorNotACrash() throws {
    let file = path("whole.h5")
    try HDF5File.create(file).root.writeDataset(
      "big", values: (0..<50_000).map { Float($0) }, shape: [50_000])
    let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
    for keep in [bytes.count / 2, 4096, 100] {
      let cut = path("cut-\(keep).h5")
      try bytes.prefix(keep).write(to: URL(fileURLWithPath: cut))
      // Either the open fails or reading the cut dataset does; both are typed errors.
      #expect(throws: HDF5Error.self) {
        _ = try HDF5File.open(cut).root.dataset("big").read(as: Float.self)
      }
    }
  }

  @Test func corruptBytesAreAnError() throws {
    let file = path("corrupt.h5")
    try HDF5File.create(file).root.writeDataset(
      "x", values: (0..<100).map { Float($0) }, shape: [100])
    var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
    for index in stride(from: 64, to: min(bytes.count, 1024), by: 7) { bytes[index] ^= 0xA5 }
    let broken = path("broken.h5")
    try bytes.write(to: URL(fileURLWithPath: broken))
    #expect(throws: HDF5Error.self) {
      _ = try HDF5File.open(broken).root.dataset("x").read(as: Float.self)
    }
  }

  @Test func missingObjectsAndWrongKindsAreNamed() throws {
    let file = path("kinds.h5")
    do {
      let root = try HDF5File.create(file).root
      try root.writeDataset("g/data", values: [1] as [Float], shape: [1])
      try root.writeAttribute("text", string: "abc")
    }
    let root = try HDF5File.open(file).root
    #expect(throws: HDF5Error.notFound(file: file, path: "/g/nothing")) {
      try root.group("g").dataset("nothing")
    }
    #expect(throws: HDF5Error.wrongKind(file: file, path: "/g/data", expected: "group", actual: "dataset")) {
      try root.group("g/data")
    }
    #expect(throws: HDF5Error.notFound(file: file, path: "/@absent")) { try root.readString("absent") }
    #expect(throws: HDF5Error.typeMismatch(file: file, path: "/@text", expected: "float32", actual: "string"))
    {
      try root.readAttribute("text", as: Float.self)
    }
    #expect(
      throws: HDF5Error.typeMismatch(file: file, path: "/g/data", expected: "strings", actual: "float32")
    ) {
      try root.dataset("g/data").readStrings()
    }
  }

  @Test func shapeMismatchOnWrite() throws {
    let file = path("shape.h5")
    let root = try HDF5File.create(file).root
    #expect(throws: HDF5Error.shapeMismatch(file: file, path: "/x", expected: [2, 2], actual: [3])) {
      try root.writeDataset("x", values: [1, 2, 3] as [Float], shape: [2, 2])
    }
    #expect(throws: HDF5Error.self) { try root.writeDataset("y", values: [Float](), shape: [-1]) }
  }

  @Test func cannotCreateInMissingDirectory() {
    let file = path("no/such/dir/x.h5")
    let error = #expect(throws: HDF5Error.self) { try HDF5File.create(file) }
    #expect(error?.description.contains("cannot create HDF5 file '\(file)'") == true)
  }

  @Test func readOnlyFilesRefuseWrites() throws {
    let file = path("ro.h5")
    try HDF5File.create(file).root.writeAttribute("a", string: "x")
    let root = try HDF5File.open(file, mode: .readOnly).root
    #expect(throws: HDF5Error.self) { try root.writeAttribute("b", string: "y") }
  }
}
