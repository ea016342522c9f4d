import Datasets
import Foundation
import TestSupport
import Testing

/// Small IDX files written by the test itself, plain and gzip-compressed, good and damaged.
@Suite struct IDXFileTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("idx") }

  func header(rank: Int, _ dimensions: [Int]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, 8, UInt8(rank)]
    for d in dimensions {
      bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)]
    }
    return bytes
  }

  @discardableResult
  func write(_ name: String, _ bytes: [UInt8], gzip: Bool = false) throws -> String {
    let path = directory.appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    if gzip {
      let result = try runProcess("gzip", ["-f", path])
      #expect(result.status == 0, "\(result.output)")
      return path + ".gz"
    }
    return path
  }

  /// Three 2×3 images with pixels 0, 51, …, and labels 2, 0, 1.
  func writeSplit(gzip: Bool, labels: [UInt8] = [2, 0, 1]) throws {
    let pixels = (0..<18).map { UInt8($0 * 15) }
    try write("train-images-idx3-ubyte", header(rank: 3, [3, 2, 3]) + pixels, gzip: gzip)
    try write("train-labels-idx1-ubyte", header(rank: 1, [labels.count]) + labels, gzip: gzip)
  }

  @Test(arguments: [false, true])
  func readsPlainAndCompressedDirectories(gzip: Bool) throws {
    try writeSplit(gzip: gzip)
    let data = try DataSource(parsing: directory.path).load(.train)
    #expect(data.images.shape == [3, 2, 3, 1])
    #expect(data.labels == [2, 0, 1])
    #expect(data.classNames == ["0", "1", "2"])
    #expect(data.images.scalars[1] == Float(15) / 255)
    #expect(data.images.scalars[17] == 1)
    #expect(try DataSource(parsing: directory.path).load(.train, limit: 2).images.shape == [2, 2, 3, 1])
  }

  @Test func missingFilesAreNamed() throws {
    let error = #expect(throws: DatasetError.self) { try DataSource.directory(directory.path).load(.test) }
    guard case .missingFile(let path, _) = error else {
      Issue.record("expected missingFile, got \(String(describing: error))")
      return
    }
    #expect(path.hasSuffix("t10k-images-idx3-ubyte.gz"))
    let hinted = #expect(throws: DatasetError.self) {
      try IDXFile.read(
        "/nonexistent/file", rank: 1, hint: "Install with: sudo apt-get install dataset-fashion-mnist")
    }
    #expect(hinted?.description.contains("sudo apt-get install dataset-fashion-mnist") == true)
  }

  @Test func wrongMagicIsRefused() throws {
    let path = try write("labels", header(rank: 1, [2]) + [1, 2])
    #expect(throws: DatasetError.badMagic(path: path, expected: 0x803, actual: 0x801)) {
      try IDXFile.read(path, rank: 3)
    }
    let text = try write("text", Array("hello, world".utf8))
    #expect(throws: DatasetError.self) { try IDXFile.read(text, rank: 1) }
  }

  @Test func truncatedPlainFileIsRefused() throws {
    let path = try write("cut", header(rank: 3, [10, 28, 28]) + [UInt8](repeating: 7, count: 1000))
    #expect(throws: DatasetError.wrongSize(path: path, expectedBytes: 16 + 7840, actualBytes: 1016)) {
      try IDXFile.read(path, rank: 3)
    }
    let tiny = try write("tiny", [0, 0])
    #expect(throws: DatasetError.self) { try IDXFile.read(tiny, rank: 1) }
    let headerOnly = try write("header", [0, 0, 8, 3, 0, 0])
    #expect(throws: DatasetError.wrongSize(path: headerOnly, expectedBytes: 16, actualBytes: 6)) {
      try IDXFile.read(headerOnly, rank: 3)
    }
  }

  @Test func truncatedGzipStreamIsRefused() throws {
    var rng = SeededRandom(seed: 9)
    let pixels = (0..<50_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
    let gz = try write("images", header(rank: 3, [50, 1000, 1]) + pixels, gzip: true)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: gz))
    let cut = try write("images-cut.gz", Array(bytes.prefix(bytes.count / 2)))
    let error = #expect(throws: DatasetError.self) { try IDXFile.read(cut, rank: 3) }
    #expect(error?.description.contains(cut) == true)
  }

  @Test func countMismatchAndBadLabels() throws {
    try writeSplit(gzip: false, labels: [1, 0])
    #expect(throws: DatasetError.self) { try DataSource.directory(directory.path).load(.train) }
    try writeSplit(gzip: false, labels: [1, 0, 12])
    // Directory sources take classes 0…max, so 12 is fine there; Fashion-MNIST's ten are fixed.
    #expect(try DataSource.directory(directory.path).load(.train).classNames.count == 13)
  }
}
