internal import CHDF5

/// An open HDF5 group or dataset: something that has a path and can carry attributes.
///
/// Objects keep their file open for as long as they live and close their handle on release.
public class HDF5Object: @unchecked Sendable {
  let id: hid_t
  /// The file this object lives in (kept open while the object lives).
  public let file: HDF5File
  /// The absolute HDF5 path, e.g. `/model_weights/dense`.
  public let path: String

  init(id: hid_t, file: HDF5File, path: String) {
    self.id = id
    self.file = file
    self.path = path
  }

  deinit { HDF5Library.locked { _ = H5Oclose(id) } }

  var fileName: String { file.path }

  // MARK: Attributes

  /// The names of this object's attributes, in name order, in one pass over them.
  public func attributeNames() throws -> [String] {
    try collectNames("listing attributes") { position, context in
      H5Aiterate2(
        id, H5_INDEX_NAME, H5_ITER_INC, position,
        { _, name, _, context in NameList.append(name, to: context) },
        context)
    }
  }

  /// The names an HDF5 iteration gives: `iterate` starts it at `position` with a callback that
  /// appends each name through ``NameList/append(_:to:)`` to the list `context` points to.
  /// - Throws: ``HDF5Error/operationFailed(file:path:operation:reason:)`` naming `operation`.
  func collectNames(
    _ operation: String, _ iterate: (UnsafeMutablePointer<hsize_t>, UnsafeMutableRawPointer) -> herr_t
  ) throws -> [String] {
    try HDF5Library.locked {
      let names = NameList()
      var position: hsize_t = 0
      let status = withExtendedLifetime(names) {
        iterate(&position, Unmanaged.passUnretained(names).toOpaque())
      }
      guard status >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: path, operation: operation, reason: HDF5Library.lastError())
      }
      return names.list
    }
  }

  /// Whether an attribute called `name` exists on this object.
  public func hasAttribute(_ name: String) -> Bool {
    HDF5Library.locked { H5Aexists(id, name) > 0 }
  }

  private func withAttribute<R>(_ name: String, _ body: (HDF5Value) throws -> R) throws -> R {
    try HDF5Library.locked {
      let attributePath = path + "@" + name
      guard H5Aexists(id, name) > 0 else {
        throw HDF5Error.notFound(file: fileName, path: attributePath)
      }
      let attribute = H5Aopen(id, name, snn_H5P_DEFAULT())
      guard attribute >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: attributePath, operation: "opening attribute",
          reason: HDF5Library.lastError())
      }
      defer { H5Aclose(attribute) }
      return try body(HDF5Value(kind: .attribute, id: attribute, file: fileName, path: attributePath))
    }
  }

  /// The element type and shape (`[]` for a scalar) of an attribute.
  public func attributeInfo(_ name: String) throws -> (type: HDF5ElementType, shape: [Int]) {
    try withAttribute(name) { (try $0.elementType, try $0.shape) }
  }

  /// Reads a numeric attribute (scalar or array, flattened in row-major order) as `T`.
  /// - Throws: ``HDF5Error/notFound(file:path:)`` or ``HDF5Error/typeMismatch(file:path:expected:actual:)``.
  public func readAttribute<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
    try withAttribute(name) { try $0.readNumbers(as: T.self) }
  }

  /// Reads a string attribute of any charset and layout; an array attribute yields every element.
  public func readStringAttribute(_ name: String) throws -> [String] {
    try withAttribute(name) { try $0.readStrings() }
  }

  /// Reads a scalar string attribute (or the only element of a one-element array).
  public func readString(_ name: String) throws -> String {
    let strings = try readStringAttribute(name)
    guard strings.count == 1 else {
      throw HDF5Error.shapeMismatch(
        file: fileName, path: path + "@" + name, expected: [], actual: [strings.count])
    }
    return strings[0]
  }

  private func createAttribute(
    _ name: String, type: hid_t, shape: [Int], write: (HDF5Value) throws -> Void
  ) throws {
    try HDF5Library.locked {
      let attributePath = path + "@" + name
      if H5Aexists(id, name) > 0 { H5Adelete(id, name) }
      let space = makeDataspace(shape)
      defer { H5Sclose(space) }
      let attribute = H5Acreate2(id, name, type, space, snn_H5P_DEFAULT(), snn_H5P_DEFAULT())
      guard attribute >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: attributePath, operation: "creating attribute",
          reason: HDF5Library.lastError())
      }
      defer { H5Aclose(attribute) }
      try write(HDF5Value(kind: .attribute, id: attribute, file: fileName, path: attributePath))
    }
  }

  /// Removes the attribute `name`.
  /// - Throws: ``HDF5Error/notFound(file:path:)`` when there is none.
  public func deleteAttribute(_ name: String) throws {
    try HDF5Library.locked {
      guard H5Aexists(id, name) > 0 else { throw HDF5Error.notFound(file: fileName, path: path + "@" + name) }
      guard H5Adelete(id, name) >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: path + "@" + name, operation: "deleting attribute",
          reason: HDF5Library.lastError())
      }
    }
  }

  /// Writes (or replaces) a scalar string attribute.
  public func writeAttribute(
    _ name: String, string: String, encoding: HDF5StringEncoding = .variableUTF8
  ) throws {
    try writeStrings(name, [string], shape: [], encoding: encoding)
  }

  /// Writes (or replaces) a one-dimensional string-array attribute.
  public func writeAttribute(
    _ name: String, strings: [String], encoding: HDF5StringEncoding = .variableUTF8
  ) throws {
    try writeStrings(name, strings, shape: [strings.count], encoding: encoding)
  }

  private func writeStrings(
    _ name: String, _ strings: [String], shape: [Int], encoding: HDF5StringEncoding
  ) throws {
    let longest = strings.map { $0.utf8.count }.max() ?? 1
    try HDF5Library.locked {
      let type = makeStringType(encoding, longest: longest)
      defer { H5Tclose(type) }
      try createAttribute(name, type: type, shape: shape) { value in
        guard !strings.isEmpty else { return }
        try withStringBuffer(strings, encoding: encoding) { try value.write(memoryType: type, from: $0) }
      }
    }
  }

  /// Writes (or replaces) a numeric attribute; `shape` `[]` (the default for one value) is a scalar.
  public func writeAttribute<T: HDF5Scalar>(_ name: String, values: [T], shape: [Int]? = nil) throws {
    let shape = shape ?? (values.count == 1 ? [] : [values.count])
    guard shape.reduce(1, *) == values.count else {
      throw HDF5Error.shapeMismatch(
        file: fileName, path: path + "@" + name, expected: shape, actual: [values.count])
    }
    try HDF5Library.locked {
      let fileType = T.hdf5ElementType.makeType(forFile: true)
      let memoryType = T.hdf5ElementType.makeType(forFile: false)
      defer {
        H5Tclose(fileType)
        H5Tclose(memoryType)
      }
      try createAttribute(name, type: fileType, shape: shape) { value in
        guard !values.isEmpty else { return }
        try values.withUnsafeBytes { try value.write(memoryType: memoryType, from: $0.baseAddress!) }
      }
    }
  }
}

/// Names collected by an HDF5 iteration callback, passed to it as its context pointer.
final class NameList {
  var list = [String]()

  /// The callback's body: appends `name` (UTF-8, as HDF5 stores it) to the list `context`
  /// points to and lets the iteration go on.
  static func append(_ name: UnsafePointer<CChar>?, to context: UnsafeMutableRawPointer?) -> herr_t {
    guard let name, let context else { return -1 }
    Unmanaged<NameList>.fromOpaque(context).takeUnretainedValue().list.append(String(cString: name))
    return 0
  }
}
