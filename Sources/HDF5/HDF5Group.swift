internal import CHDF5

/// An open HDF5 group: a directory of named groups and datasets.
///
/// Names given to its methods are relative to the group and may contain `/` to reach deeper
/// (`"dense/dense/kernel:0"`); creating such a path creates the missing intermediate groups.
public final class HDF5Group: HDF5Object, @unchecked Sendable {
  /// What a link in a group points at.
  public enum ChildKind: Sendable, Equatable { case group, dataset, other }

  static func open(in file: HDF5File, at path: String, relativeTo location: hid_t) throws -> HDF5Group {
    let id = H5Gopen2(location, path, snn_H5P_DEFAULT())
    guard id >= 0 else {
      throw HDF5Error.operationFailed(
        file: file.path, path: path, operation: "opening group", reason: HDF5Library.lastError())
    }
    return HDF5Group(id: id, file: file, path: path)
  }

  /// Whether a link `name` (possibly a nested path) exists under this group.
  public func contains(_ name: String) -> Bool { kind(of: name) != nil }

  /// The kind of object at `name`, or nil when nothing is there; `.other` where the path goes
  /// through a soft or external link, which are not followed.
  public func kind(of name: String) -> ChildKind? {
    HDF5Library.locked {
      do { return try resolve(name) } catch { return .other }
    }
  }

  /// The kind of object at `name`, or nil when nothing is there, checking that every link on
  /// the way is a hard link. Call under the library lock.
  /// - Throws: ``HDF5Error/link(file:path:kind:)`` at the first soft, external or user-defined
  ///   link.
  private func resolve(_ name: String) throws -> ChildKind? {
    var prefix = ""
    for component in name.split(separator: "/", omittingEmptySubsequences: true) {
      prefix += (prefix.isEmpty ? "" : "/") + component
      guard H5Lexists(id, prefix, snn_H5P_DEFAULT()) > 0 else {
        H5Eclear2(snn_H5E_DEFAULT())
        return nil
      }
      var info = H5L_info_t()
      guard H5Lget_info(id, prefix, &info, snn_H5P_DEFAULT()) >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: joinPath(path, prefix), operation: "reading link",
          reason: HDF5Library.lastError())
      }
      switch info.type {
      case H5L_TYPE_HARD: continue
      case H5L_TYPE_SOFT: throw HDF5Error.link(file: fileName, path: joinPath(path, prefix), kind: "a soft")
      case H5L_TYPE_EXTERNAL:
        throw HDF5Error.link(file: fileName, path: joinPath(path, prefix), kind: "an external")
      default: throw HDF5Error.link(file: fileName, path: joinPath(path, prefix), kind: "a user-defined")
      }
    }
    guard !prefix.isEmpty else { return nil }
    let object = H5Oopen(id, name, snn_H5P_DEFAULT())
    guard object >= 0 else {
      H5Eclear2(snn_H5E_DEFAULT())
      return .other
    }
    defer { H5Oclose(object) }
    switch H5Iget_type(object) {
    case H5I_GROUP: return .group
    case H5I_DATASET: return .dataset
    default: return .other
    }
  }

  /// The names of this group's direct children, in name order.
  /// - Complexity: one pass over the group's links (asking for the n-th name, as
  ///   `H5Lget_name_by_idx` does, walks the group's index from the start each time in groups of
  ///   the old format, which made listing a group of 10,000 layers quadratic).
  public func children() throws -> [String] {
    try collectNames("listing group") { position, context in
      H5Literate(
        id, H5_INDEX_NAME, H5_ITER_INC, position,
        { _, name, _, context in NameList.append(name, to: context) },
        context)
    }
  }

  private func requireKind(_ name: String, _ expected: ChildKind) throws {
    guard let actual = try resolve(name) else {
      throw HDF5Error.notFound(file: fileName, path: joinPath(path, name))
    }
    guard actual == expected else {
      throw HDF5Error.wrongKind(
        file: fileName, path: joinPath(path, name), expected: "\(expected)", actual: "\(actual)")
    }
  }

  /// Opens the existing group `name`.
  /// - Throws: ``HDF5Error/notFound(file:path:)`` or ``HDF5Error/wrongKind(file:path:expected:actual:)``.
  public func group(_ name: String) throws -> HDF5Group {
    try HDF5Library.locked {
      try requireKind(name, .group)
      return try HDF5Group.open(in: file, at: joinPath(path, name), relativeTo: id)
    }
  }

  /// Creates the group `name` (and missing intermediate groups), or opens it if it exists.
  public func createGroup(_ name: String) throws -> HDF5Group {
    try HDF5Library.locked {
      if contains(name) { return try group(name) }
      let linkProperties = H5Pcreate(snn_H5P_LINK_CREATE())
      let createProperties = H5Pcreate(snn_H5P_GROUP_CREATE())
      defer {
        H5Pclose(linkProperties)
        H5Pclose(createProperties)
      }
      H5Pset_create_intermediate_group(linkProperties, 1)
      H5Pset_obj_track_times(createProperties, false)
      let child = H5Gcreate2(id, name, linkProperties, createProperties, snn_H5P_DEFAULT())
      guard child >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: joinPath(path, name), operation: "creating group",
          reason: HDF5Library.lastError())
      }
      return HDF5Group(id: child, file: file, path: joinPath(path, name))
    }
  }

  /// Opens the existing dataset `name`.
  public func dataset(_ name: String) throws -> HDF5Dataset {
    try HDF5Library.locked {
      try requireKind(name, .dataset)
      let child = H5Dopen2(id, name, snn_H5P_DEFAULT())
      guard child >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: joinPath(path, name), operation: "opening dataset",
          reason: HDF5Library.lastError())
      }
      return HDF5Dataset(id: child, file: file, path: joinPath(path, name))
    }
  }

  private func createDataset(
    _ name: String, type: hid_t, shape: [Int], gzip: Int?, write: (HDF5Value) throws -> Void
  ) throws {
    let fullPath = joinPath(path, name)
    guard shape.allSatisfy({ $0 >= 0 }) else {
      throw HDF5Error.shapeMismatch(file: fileName, path: fullPath, expected: [], actual: shape)
    }
    try HDF5Library.locked {
      if contains(name) {
        guard H5Ldelete(id, name, snn_H5P_DEFAULT()) >= 0 else {
          throw HDF5Error.operationFailed(
            file: fileName, path: fullPath, operation: "replacing dataset", reason: HDF5Library.lastError())
        }
      }
      let space = makeDataspace(shape)
      let linkProperties = H5Pcreate(snn_H5P_LINK_CREATE())
      let createProperties = H5Pcreate(snn_H5P_DATASET_CREATE())
      defer {
        H5Sclose(space)
        H5Pclose(linkProperties)
        H5Pclose(createProperties)
      }
      H5Pset_create_intermediate_group(linkProperties, 1)
      H5Pset_obj_track_times(createProperties, false)
      if let level = gzip, !shape.isEmpty, !shape.contains(0) {
        let chunk = chunkShape(shape, elementSize: H5Tget_size(type)).map { hsize_t($0) }
        H5Pset_chunk(createProperties, Int32(chunk.count), chunk)
        H5Pset_deflate(createProperties, UInt32(min(max(level, 0), 9)))
      }
      let dataset = H5Dcreate2(id, name, type, space, linkProperties, createProperties, snn_H5P_DEFAULT())
      guard dataset >= 0 else {
        throw HDF5Error.operationFailed(
          file: fileName, path: fullPath, operation: "creating dataset", reason: HDF5Library.lastError())
      }
      defer { H5Dclose(dataset) }
      try write(HDF5Value(kind: .dataset, id: dataset, file: fileName, path: fullPath))
    }
  }

  /// Writes (or replaces) a numeric dataset of the given shape, row-major.
  /// - Parameters:
  ///   - gzip: deflate level 0–9 to compress (the data is then stored in chunks of about 1 MiB);
  ///     nil stores it contiguous and uncompressed.
  /// - Throws: ``HDF5Error/shapeMismatch(file:path:expected:actual:)`` when `values.count` is not
  ///   the product of `shape`.
  public func writeDataset<T: HDF5Scalar>(
    _ name: String, values: [T], shape: [Int], gzip: Int? = nil
  ) throws {
    guard shape.reduce(1, *) == values.count else {
      throw HDF5Error.shapeMismatch(
        file: fileName, path: joinPath(path, name), expected: shape, actual: [values.count])
    }
    try HDF5Library.locked {
      let fileType = T.hdf5ElementType.makeType(forFile: true)
      let memoryType = T.hdf5ElementType.makeType(forFile: false)
      defer {
        H5Tclose(fileType)
        H5Tclose(memoryType)
      }
      try createDataset(name, type: fileType, shape: shape, gzip: gzip) { value in
        guard !values.isEmpty else { return }
        try values.withUnsafeBytes { try value.write(memoryType: memoryType, from: $0.baseAddress!) }
      }
    }
  }

  /// Writes (or replaces) a dataset of strings with the given shape (`[]` for one string).
  public func writeDataset(
    _ name: String, strings: [String], shape: [Int]? = nil, encoding: HDF5StringEncoding = .variableUTF8
  ) throws {
    let shape = shape ?? [strings.count]
    guard shape.reduce(1, *) == strings.count else {
      throw HDF5Error.shapeMismatch(
        file: fileName, path: joinPath(path, name), expected: shape, actual: [strings.count])
    }
    let longest = strings.map { $0.utf8.count }.max() ?? 1
    try HDF5Library.locked {
      let type = makeStringType(encoding, longest: longest)
      defer { H5Tclose(type) }
      try createDataset(name, type: type, shape: shape, gzip: nil) { value in
        guard !strings.isEmpty else { return }
        try withStringBuffer(strings, encoding: encoding) { try value.write(memoryType: type, from: $0) }
      }
    }
  }
}

/// A chunk shape of at most about 1 MiB: whole trailing dimensions, split along the leading ones.
func chunkShape(_ shape: [Int], elementSize: Int) -> [Int] {
  var chunk = shape
  let limit = max(1 << 20 / max(elementSize, 1), 1)
  var index = 0
  while chunk.reduce(1, *) > limit, index < chunk.count {
    let rest = chunk.reduce(1, *) / chunk[index]
    chunk[index] = max(1, limit / max(rest, 1))
    index += 1
  }
  return chunk
}
