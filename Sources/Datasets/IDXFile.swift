internal import CZlib
import Foundation

/// The IDX format of the MNIST family of data sets: a big-endian header — two zero bytes, a type
/// code (`0x08` = unsigned byte) and the number of dimensions — then one big-endian `UInt32` per
/// dimension, then the elements in row-major order. Files may be gzip-compressed (as Debian
/// ships them) or plain; both are read the same way.
public struct IDXFile: Sendable, Equatable {
  /// The extent of each dimension, e.g. `[60000, 28, 28]`.
  public let dimensions: [Int]
  /// The elements, row-major.
  public let bytes: [UInt8]

  /// Reads an unsigned-byte IDX file with `rank` dimensions.
  /// - Throws: ``DatasetError/missingFile(path:hint:)``, ``DatasetError/unreadable(path:reason:)``
  ///   (including a damaged gzip stream), ``DatasetError/badMagic(path:expected:actual:)``, or
  ///   ``DatasetError/wrongSize(path:expectedBytes:actualBytes:)`` for a truncated file.
  public static func read(_ path: String, rank: Int, hint: String = "") throws -> IDXFile {
    let data = try decompressedContents(of: path, hint: hint)
    let expectedMagic = UInt32(0x0000_0800) | UInt32(rank)
    guard data.count >= 4 else {
      throw DatasetError.wrongSize(path: path, expectedBytes: 4 + 4 * rank, actualBytes: data.count)
    }
    let magic = bigEndianWord(data, at: 0)
    guard magic == expectedMagic else {
      throw DatasetError.badMagic(path: path, expected: expectedMagic, actual: magic)
    }
    let headerSize = 4 + 4 * rank
    guard data.count >= headerSize else {
      throw DatasetError.wrongSize(path: path, expectedBytes: headerSize, actualBytes: data.count)
    }
    let dimensions = (0..<rank).map { Int(bigEndianWord(data, at: 4 + 4 * $0)) }
    // Each dimension is below 2³², so the product of at most three fits in Int64 only if we check.
    var (elements, overflow) = (1, false)
    for dimension in dimensions where !overflow {
      (elements, overflow) = elements.multipliedReportingOverflow(by: dimension)
    }
    guard !overflow, headerSize + elements == data.count else {
      throw DatasetError.wrongSize(
        path: path, expectedBytes: overflow ? Int.max : headerSize + elements, actualBytes: data.count)
    }
    return IDXFile(dimensions: dimensions, bytes: Array(data[headerSize...]))
  }

  private static func bigEndianWord(_ data: [UInt8], at offset: Int) -> UInt32 {
    data[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
  }

  /// The file's bytes, gunzipped when the file is gzip-compressed.
  static func decompressedContents(of path: String, hint: String) throws -> [UInt8] {
    guard FileManager.default.fileExists(atPath: path) else {
      throw DatasetError.missingFile(path: path, hint: hint)
    }
    guard let file = gzopen(path, "rb") else {
      throw DatasetError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    defer { gzclose(file) }
    gzbuffer(file, 1 << 17)
    var result = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
      if count < 0 {
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? "decompression failed"
        throw DatasetError.unreadable(path: path, reason: message)
      }
      if count == 0 { break }
      result.append(contentsOf: chunk[0..<Int(count)])
    }
    var code: Int32 = 0
    let message = gzerror(file, &code).map { String(cString: $0) } ?? ""
    if code != Z_OK && code != Z_STREAM_END {
      throw DatasetError.unreadable(path: path, reason: message.isEmpty ? "zlib error \(code)" : message)
    }
    return result
  }
}
