import AtomicFile
internal import CZlib
import Foundation

/// The members of a zip archive, as NumPy's `.npz` files are: stored or deflated, with or
/// without zip64 sizes. Archives are untrusted input: every offset and size is checked against
/// the file before it is used, and a member is inflated only up to the size its entry states.
struct ZipArchive {
  struct Entry {
    let name: String
    let method: UInt16
    let crc: UInt32
    let compressedSize: Int
    let size: Int
    let localHeader: Int
  }

  let path: String
  let data: Data
  let entries: [Entry]

  /// The largest archive, and the largest member, read: 2 GiB.
  static let maximumBytes = 1 << 31

  init(path: String) throws {
    func bad(_ reason: String) -> DatasetError {
      .unreadable(path: path, reason: "not a readable zip archive: \(reason)")
    }
    self.path = path
    do { data = try InputFileBytes.read(path, limit: Self.maximumBytes) } catch let error as DatasetError {
      throw error
    }
    let bytes = [UInt8](data)
    func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
    func u64(_ at: Int) -> Int? {
      let high = u32(at + 4)
      return high < (1 << 30) ? u32(at) | high << 32 : nil
    }
    // The end-of-central-directory record: in the last 22 + 65,535 bytes.
    guard bytes.count >= 22 else { throw bad("\(bytes.count) bytes, too short") }
    var end = bytes.count - 22
    let earliest = max(0, bytes.count - 22 - 65_535)
    while end >= earliest
      && !(bytes[end] == 0x50 && bytes[end + 1] == 0x4B && bytes[end + 2] == 5 && bytes[end + 3] == 6)
    {
      end -= 1
    }
    guard end >= earliest else { throw bad("no end-of-central-directory record") }
    var count = u16(end + 10)
    var directory = u32(end + 16)
    if count == 0xFFFF || directory == 0xFFFF_FFFF {
      // Zip64: the locator sits just before the record and points at the zip64 record.
      let locator = end - 20
      guard locator >= 0, u32(locator) == 0x0706_4B50, let record = u64(locator + 8), record >= 0,
        record + 56 <= bytes.count, u32(record) == 0x0606_4B50, let entries = u64(record + 32),
        let offset = u64(record + 48)
      else { throw bad("a damaged zip64 end-of-central-directory record") }
      count = entries
      directory = offset
    }
    var entries = [Entry]()
    var at = directory
    for _ in 0..<count {
      guard at >= 0, at + 46 <= bytes.count, u32(at) == 0x0201_4B50 else {
        throw bad("central directory entry \(entries.count) lies outside the file or is damaged")
      }
      let (nameLength, extraLength, commentLength) = (u16(at + 28), u16(at + 30), u16(at + 32))
      guard at + 46 + nameLength + extraLength + commentLength <= bytes.count else {
        throw bad("central directory entry \(entries.count) runs past the end of the file")
      }
      let name = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
      var compressed = u32(at + 20)
      var size = u32(at + 24)
      var local = u32(at + 42)
      // Zip64 sizes and offset, in this order, for each field that says 0xFFFFFFFF.
      var extra = at + 46 + nameLength
      let extraEnd = extra + extraLength
      while extra + 4 <= extraEnd {
        let (id, length) = (u16(extra), u16(extra + 2))
        if id == 1 {
          var field = extra + 4
          for value in [0, 1, 2] {
            let wanted = [size, compressed, local][value] == 0xFFFF_FFFF
            guard wanted else { continue }
            guard field + 8 <= extra + 4 + length, let wide = u64(field) else {
              throw bad("member '\(name)' has a damaged zip64 field")
            }
            if value == 0 { size = wide } else if value == 1 { compressed = wide } else { local = wide }
            field += 8
          }
        }
        extra += 4 + length
      }
      entries.append(
        Entry(
          name: name, method: UInt16(u16(at + 10)), crc: UInt32(u32(at + 16)), compressedSize: compressed,
          size: size, localHeader: local))
      at = extraEnd + commentLength
    }
    self.entries = entries
  }

  /// The bytes of member `name`, inflated and checked against its CRC.
  func member(_ name: String, limit: Int) throws -> [UInt8] {
    func bad(_ reason: String) -> DatasetError {
      .unreadable(path: path, reason: "member '\(name)': \(reason)")
    }
    guard let entry = entries.first(where: { $0.name == name }) else { throw bad("not in the archive") }
    guard entry.size <= limit else {
      throw bad("\(entry.size) bytes, more than the \(limit) this reader accepts")
    }
    let bytes = data
    func u16(_ at: Int) -> Int {
      Int(bytes[bytes.startIndex + at]) | Int(bytes[bytes.startIndex + at + 1]) << 8
    }
    let header = entry.localHeader
    guard header >= 0, header + 30 <= bytes.count,
      u16(header) | u16(header + 2) << 16 == 0x0403_4B50
    else { throw bad("its local header lies outside the file or is damaged") }
    let start = header + 30 + u16(header + 26) + u16(header + 28)
    guard start + entry.compressedSize <= bytes.count else {
      throw bad("its data run past the end of the file")
    }
    let stored = bytes[(bytes.startIndex + start)..<(bytes.startIndex + start + entry.compressedSize)]
    var output: [UInt8]
    switch entry.method {
    case 0:
      guard entry.compressedSize == entry.size else { throw bad("stored with two different sizes") }
      output = [UInt8](stored)
    case 8:
      output = [UInt8](repeating: 0, count: entry.size)
      var stream = z_stream()
      guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw bad("zlib could not start")
      }
      defer { inflateEnd(&stream) }
      var input = [UInt8](stored)
      let status = input.withUnsafeMutableBufferPointer { source in
        output.withUnsafeMutableBufferPointer { target in
          stream.next_in = source.baseAddress
          stream.avail_in = UInt32(source.count)
          stream.next_out = target.baseAddress
          stream.avail_out = UInt32(target.count)
          return inflate(&stream, Z_FINISH)
        }
      }
      guard status == Z_STREAM_END, Int(stream.total_out) == entry.size else {
        throw bad(
          "its deflated data are damaged (zlib status \(status), \(stream.total_out) of \(entry.size) bytes)")
      }
    default:
      throw bad("compression method \(entry.method) is not supported (stored and deflated are)")
    }
    let crc = output.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
    guard crc == entry.crc else { throw bad("its CRC does not match: the archive is damaged") }
    return output
  }
}

/// Reading a whole input file, with the data-set errors.
enum InputFileBytes {
  static func read(_ path: String, limit: Int) throws -> Data {
    guard FileManager.default.fileExists(atPath: path) else {
      throw DatasetError.missingFile(path: path, hint: "")
    }
    do { return try InputFile.read(path, limit: limit) } catch let error as FileReadError {
      throw DatasetError.unreadable(path: path, reason: error.reason)
    }
  }
}
