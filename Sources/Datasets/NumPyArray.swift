import Foundation

/// An array in NumPy's `.npy` format (versions 1.0 to 3.0): the magic `\x93NUMPY`, a version, a
/// header length, a Python-literal header `{'descr': …, 'fortran_order': …, 'shape': (…)}`, then
/// the elements. Booleans, signed and unsigned integers of 1 to 8 bytes and floats of 4 or 8
/// bytes, little- or big-endian, in C order. Untrusted input: the shape is checked against the
/// bytes present before anything is converted.
struct NumPyArray {
  enum Kind: Character {
    case bool = "b"
    case signed = "i"
    case unsigned = "u"
    case float = "f"
  }

  let shape: [Int]
  let kind: Kind
  let width: Int
  let bigEndian: Bool
  /// The elements' bytes, as stored.
  let bytes: [UInt8]
  let source: String

  var count: Int { shape.reduce(1, *) }
  /// Whether the elements are whole numbers by type (bool, integers, or HDF5 integers read as
  /// doubles).
  let isInteger: Bool

  /// An array of doubles (as read from HDF5), `isInteger` when they were stored as integers.
  init(shape: [Int], doubles: [Double], integer: Bool, source: String) {
    self.shape = shape
    kind = .float
    width = 8
    bigEndian = false
    bytes = doubles.withUnsafeBytes { Array($0) }
    isInteger = integer
    self.source = source
  }

  /// Parses `bytes`, the content of an `.npy` file or an `.npz` member named by `source`.
  init(_ data: [UInt8], source: String) throws {
    func bad(_ reason: String) -> DatasetError {
      .unreadable(path: source, reason: "not a readable .npy array: \(reason)")
    }
    self.source = source
    guard data.count >= 10, data[0] == 0x93, Array(data[1..<6]) == Array("NUMPY".utf8) else {
      throw bad("no \\x93NUMPY magic")
    }
    let major = data[6]
    let (lengthBytes, headerStart): (Int, Int) = major == 1 ? (2, 10) : (4, 12)
    guard (1...3).contains(major), data.count >= headerStart else {
      throw bad("format version \(major) is not known")
    }
    let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(data[8 + $1]) << (8 * $1) }
    guard headerStart + headerLength <= data.count else { throw bad("the header runs past the end") }
    let header = String(decoding: data[headerStart..<(headerStart + headerLength)], as: UTF8.self)
    func field(_ key: String) throws -> String {
      guard let range = header.range(of: "'\(key)':") else { throw bad("the header has no '\(key)'") }
      return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
    }
    let descriptor = try field("descr")
    guard descriptor.first == "'" || descriptor.first == "\"",
      let close = descriptor.dropFirst().firstIndex(of: descriptor.first!)
    else { throw bad("'descr' is not a string") }
    let type = Array(descriptor[descriptor.index(after: descriptor.startIndex)..<close])
    guard type.count >= 3, let kind = Kind(rawValue: type[1]), let width = Int(String(type[2...])),
      ["<", ">", "|", "="].contains(type[0])
    else { throw bad("element type '\(String(type))' is not one this reader knows (bool, integers, floats)") }
    guard kind == .float ? [4, 8].contains(width) : [1, 2, 4, 8].contains(width) else {
      throw bad("element type '\(String(type))' is not one this reader knows (float16 and complex are not)")
    }
    guard try field("fortran_order").hasPrefix("False") else {
      throw bad("Fortran-ordered arrays are not read; save with numpy.ascontiguousarray")
    }
    let shapeText = try field("shape")
    guard shapeText.first == "(", let end = shapeText.firstIndex(of: ")") else {
      throw bad("'shape' is not a tuple")
    }
    let dimensions = shapeText[shapeText.index(after: shapeText.startIndex)..<end]
      .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    let shape = try dimensions.map { text -> Int in
      guard let value = Int(text), value >= 0 else { throw bad("'shape' holds '\(text)'") }
      return value
    }
    var elements = 1
    for dimension in shape {
      let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
      guard !overflow, product <= ZipArchive.maximumBytes else { throw bad("'shape' \(shape) is too large") }
      elements = product
    }
    let body = headerStart + headerLength
    guard data.count - body == elements * width else {
      throw bad(
        "'shape' \(shape) of \(width)-byte elements needs \(elements * width) bytes, the file holds \(data.count - body)"
      )
    }
    self.shape = shape
    self.kind = kind
    self.width = width
    self.bigEndian = type[0] == ">"
    self.bytes = Array(data[body...])
    self.isInteger = kind != .float
  }

  /// Element `i` as a Double (integers of more than 53 bits round).
  @inline(__always)
  func value(_ i: Int) -> Double {
    var raw: UInt64 = 0
    let base = i * width
    for b in 0..<width {
      let byte = UInt64(bytes[base + (bigEndian ? width - 1 - b : b)])
      raw |= byte << (8 * UInt64(b))
    }
    switch kind {
    case .bool: return raw == 0 ? 0 : 1
    case .unsigned: return Double(raw)
    case .signed:
      let shift = UInt64(64 - 8 * width)
      return Double(Int64(bitPattern: raw << shift) >> Int64(shift))
    case .float:
      return width == 4 ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))) : Double(bitPattern: raw)
    }
  }

  /// Every element as a Float.
  func floats() -> [Float] {
    if kind == .float && width == 4 && !bigEndian {
      return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    if kind == .unsigned && width == 1 { return bytes.map { Float($0) } }
    return (0..<count).map { Float(value($0)) }
  }
}
