import AtomicFile
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

  /// The most bytes of elements one file may hold: 2 GiB (Fashion-MNIST's training images are
  /// 47 MB).
  public static let maximumElementBytes = 1 << 31

  /// Reads an unsigned-byte IDX file with `rank` dimensions. A compressed file is inflated only
  /// as far as its header promises, so a small file that would inflate to gigabytes is refused
  /// after one byte too many.
  /// - Throws: ``DatasetError/missingFile(path:hint:)``, ``DatasetError/unreadable(path:reason:)``
  ///   (including a damaged gzip stream, a size beyond ``maximumElementBytes`` and a file that is
  ///   not a regular file), ``DatasetError/badMagic(path:expected:actual:)``, or
  ///   ``DatasetError/wrongSize(path:expectedBytes:actualBytes:)`` for a truncated file or one
  ///   with trailing data.
  public static func read(_ path: String, rank: Int, hint: String = "") throws -> IDXFile {
    guard FileManager.default.fileExists(atPath: path) else {
      throw DatasetError.missingFile(path: path, hint: hint)
    }
    do { try InputFile.requireRegular(path) } catch let error as FileReadError {
      throw DatasetError.unreadable(path: path, reason: error.reason)
    }
    guard let file = gzopen(path, "rb") else {
      throw DatasetError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    defer { gzclose(file) }
    gzbuffer(file, 1 << 17)
    let headerSize = 4 + 4 * rank
    let header = try readBytes(file, upTo: headerSize, path: path)
    guard header.count >= 4 else {
      throw DatasetError.wrongSize(path: path, expectedBytes: headerSize, actualBytes: header.count)
    }
    let expectedMagic = UInt32(0x0000_0800) | UInt32(rank)
    let magic = bigEndianWord(header, at: 0)
    guard magic == expectedMagic else {
      throw DatasetError.badMagic(path: path, expected: expectedMagic, actual: magic)
    }
    guard header.count == headerSize else {
      throw DatasetError.wrongSize(path: path, expectedBytes: headerSize, actualBytes: header.count)
    }
    let dimensions = (0..<rank).map { Int(bigEndianWord(header, at: 4 + 4 * $0)) }
    // Each dimension is below 2³², so the product of three can overflow Int64: check it.
    var (elements, overflow) = (1, false)
    for dimension in dimensions where !overflow {
      (elements, overflow) = elements.multipliedReportingOverflow(by: dimension)
    }
    guard !overflow, elements <= maximumElementBytes else {
      let claimed = dimensions.map(String.init).joined(separator: "×")
      throw DatasetError.unreadable(
        path: path,
        reason: "its header claims \(claimed) bytes, more than the \(maximumElementBytes) this reader accepts"
      )
    }
    // One byte more than promised tells trailing data from an exact fit.
    let body = try readBytes(file, upTo: elements + 1, path: path)
    guard body.count == elements else {
      throw DatasetError.wrongSize(
        path: path, expectedBytes: headerSize + elements, actualBytes: headerSize + body.count)
    }
    return IDXFile(dimensions: dimensions, bytes: body)
  }

  private static func bigEndianWord(_ data: [UInt8], at offset: Int) -> UInt32 {
    data[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
  }

  /// Up to `limit` bytes of the (inflated) stream, fewer at its end; grows as it reads, so a
  /// header's claim allocates nothing that the stream does not hold.
  private static func readBytes(_ file: gzFile, upTo limit: Int, path: String) throws -> [UInt8] {
    var result = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: min(limit, 1 << 20))
    while result.count < limit {
      let wanted = min(chunk.count, limit - result.count)
      let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(wanted)) }
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
