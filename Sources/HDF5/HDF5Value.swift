internal import CHDF5
import Foundation

/// A readable and writable piece of stored data: an attribute or a dataset. Both share the
/// type/space/read/write protocol of HDF5, so numeric and string conversion is written once.
/// Callers hold the library lock.
struct HDF5Value {
  enum Kind { case attribute, dataset }
  let kind: Kind
  let id: hid_t
  let file: String
  let path: String

  func withType<R>(_ body: (hid_t) throws -> R) throws -> R {
    let type = kind == .attribute ? H5Aget_type(id) : H5Dget_type(id)
    guard type >= 0 else { throw failure("reading the datatype") }
    defer { H5Tclose(type) }
    return try body(type)
  }

  var elementType: HDF5ElementType {
    get throws { try withType { HDF5ElementType.classify($0) } }
  }

  /// The shape of the dataspace: `[]` for a scalar, `[0]` for a null dataspace.
  var shape: [Int] {
    get throws {
      let space = kind == .attribute ? H5Aget_space(id) : H5Dget_space(id)
      guard space >= 0 else { throw failure("reading the dataspace") }
      defer { H5Sclose(space) }
      switch H5Sget_simple_extent_type(space) {
      case H5S_SCALAR: return []
      case H5S_NULL: return [0]
      default:
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        H5Sget_simple_extent_dims(space, &dims, nil)
        // Clamped, not trapping: a corrupt file may claim 2⁶⁴ − 1; ``elementCount`` refuses it.
        return dims.prefix(rank).map { Int(clamping: $0) }
      }
    }
  }

  /// The number of elements the shape claims, checked against ``HDF5Limits/maximumElements``
  /// before anything is allocated for them.
  /// - Throws: ``HDF5Error/tooLarge(file:path:shape:limit:)``.
  var elementCount: Int {
    get throws {
      let dimensions = try shape
      guard let count = HDF5Limits.elementCount(dimensions), count <= HDF5Limits.maximumElements else {
        throw HDF5Error.tooLarge(file: file, path: path, shape: dimensions, limit: HDF5Limits.maximumElements)
      }
      return count
    }
  }

  func failure(_ operation: String) -> HDF5Error {
    .operationFailed(file: file, path: path, operation: operation, reason: HDF5Library.lastError())
  }

  private func read(memoryType: hid_t, into buffer: UnsafeMutableRawPointer) -> herr_t {
    kind == .attribute
      ? H5Aread(id, memoryType, buffer)
      : H5Dread(id, memoryType, snn_H5S_ALL(), snn_H5S_ALL(), snn_H5P_DEFAULT(), buffer)
  }

  func write(memoryType: hid_t, from buffer: UnsafeRawPointer) throws {
    let status =
      kind == .attribute
      ? H5Awrite(id, memoryType, buffer)
      : H5Dwrite(id, memoryType, snn_H5S_ALL(), snn_H5S_ALL(), snn_H5P_DEFAULT(), buffer)
    guard status >= 0 else { throw failure("writing") }
  }

  /// Reads every element, converting numerically to `T`.
  func readNumbers<T: HDF5Scalar>(as: T.Type) throws -> [T] {
    let stored = try elementType
    guard stored.isNumeric else {
      throw HDF5Error.typeMismatch(
        file: file, path: path, expected: "\(T.hdf5ElementType)", actual: "\(stored)")
    }
    let count = try elementCount
    var values = [T](repeating: T.hdf5Zero, count: count)
    let memoryType = T.hdf5ElementType.makeType(forFile: false)
    defer { H5Tclose(memoryType) }
    let status = values.withUnsafeMutableBytes { raw -> herr_t in
      guard let base = raw.baseAddress else { return 0 }
      return read(memoryType: memoryType, into: base)
    }
    guard status >= 0 else { throw failure("reading \(T.hdf5ElementType) values") }
    return values
  }

  /// Reads every element of a string attribute or dataset, whatever its charset and layout.
  func readStrings() throws -> [String] {
    try withType { fileType in
      guard H5Tget_class(fileType) == H5T_STRING else {
        throw HDF5Error.typeMismatch(
          file: file, path: path, expected: "strings",
          actual: "\(HDF5ElementType.classify(fileType))")
      }
      let count = try elementCount
      guard count > 0 else { return [] }
      // HDF5 converts between ASCII and UTF-8 only by failing, so read with the file's charset.
      let memoryType = H5Tcopy(snn_H5T_C_S1())
      defer { H5Tclose(memoryType) }
      H5Tset_cset(memoryType, H5Tget_cset(fileType))
      if H5Tis_variable_str(fileType) > 0 {
        H5Tset_size(memoryType, snn_H5T_VARIABLE())
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        let status = pointers.withUnsafeMutableBytes { read(memoryType: memoryType, into: $0.baseAddress!) }
        guard status >= 0 else { throw failure("reading strings") }
        defer { for pointer in pointers where pointer != nil { H5free_memory(pointer) } }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
      }
      let width = H5Tget_size(fileType)
      let (total, overflow) = count.multipliedReportingOverflow(by: width)
      guard width > 0, !overflow, total <= HDF5Limits.maximumStringBytes else {
        throw HDF5Error.tooLarge(
          file: file, path: path, shape: try shape + [width], limit: HDF5Limits.maximumStringBytes)
      }
      H5Tset_size(memoryType, width)
      H5Tset_strpad(memoryType, H5Tget_strpad(fileType))
      var bytes = [UInt8](repeating: 0, count: total)
      let status = bytes.withUnsafeMutableBytes { read(memoryType: memoryType, into: $0.baseAddress!) }
      guard status >= 0 else { throw failure("reading fixed-length strings") }
      let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
      return (0..<count).map { index in
        var field = bytes[(index * width)..<((index + 1) * width)].prefix { $0 != 0 }
        if spacePadded { while field.last == 0x20 { field.removeLast() } }
        return String(decoding: field, as: UTF8.self)
      }
    }
  }
}

/// Makes a file datatype for strings; the caller closes it.
func makeStringType(_ encoding: HDF5StringEncoding, longest: Int) -> hid_t {
  let type = H5Tcopy(snn_H5T_C_S1())
  switch encoding {
  case .variableUTF8:
    H5Tset_size(type, snn_H5T_VARIABLE())
    H5Tset_cset(type, H5T_CSET_UTF8)
  case .variableASCII:
    H5Tset_size(type, snn_H5T_VARIABLE())
    H5Tset_cset(type, H5T_CSET_ASCII)
  case .fixedASCII:
    H5Tset_size(type, max(longest, 1))
    H5Tset_strpad(type, H5T_STR_NULLPAD)
    H5Tset_cset(type, H5T_CSET_ASCII)
  }
  return type
}

/// Lays `strings` out in memory as HDF5 expects for `encoding` (an array of C-string pointers,
/// or fixed-width null-padded bytes) and passes the buffer to `body`. `strings` is not empty.
func withStringBuffer(
  _ strings: [String], encoding: HDF5StringEncoding, _ body: (UnsafeRawPointer) throws -> Void
) throws {
  switch encoding {
  case .variableUTF8, .variableASCII:
    precondition(!strings.isEmpty, "no strings to lay out")
    var cStrings = strings.map { strdup($0) }
    defer { for pointer in cStrings { free(pointer) } }
    try cStrings.withUnsafeMutableBytes { try body($0.baseAddress!) }
  case .fixedASCII:
    let width = max(strings.map { $0.utf8.count }.max() ?? 1, 1)
    var bytes = [UInt8](repeating: 0, count: max(strings.count, 1) * width)
    for (index, string) in strings.enumerated() {
      for (offset, byte) in string.utf8.enumerated() { bytes[index * width + offset] = byte }
    }
    try bytes.withUnsafeBytes { try body($0.baseAddress!) }
  }
}

/// Makes a dataspace for `shape` (`[]` is a scalar); the caller closes it.
func makeDataspace(_ shape: [Int]) -> hid_t {
  if shape.isEmpty { return H5Screate(H5S_SCALAR) }
  let dims = shape.map { hsize_t($0) }
  return H5Screate_simple(Int32(dims.count), dims, nil)
}
