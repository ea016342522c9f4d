import AtomicFile
internal import CHDF5
import Foundation

/// An open HDF5 file.
///
/// ```swift
/// let file = try HDF5File.create("/tmp/x.h5")
/// try file.root.createGroup("weights").writeDataset("w", values: [1, 2, 3] as [Float], shape: [3])
/// ```
/// The file closes when the last object from it is released.
public final class HDF5File: @unchecked Sendable {
  /// How an existing file is opened.
  public enum Mode: Sendable { case readOnly, readWrite }

  let id: hid_t
  /// The file name as given by the caller (used in error messages).
  public let path: String

  private init(id: hid_t, path: String) {
    self.id = id
    self.path = path
  }

  deinit { HDF5Library.locked { _ = H5Fclose(id) } }

  /// Opens an existing file.
  /// - Throws: ``HDF5Error/cannotOpen(file:reason:)`` when the file is missing, unreadable,
  ///   not an HDF5 file, or damaged so that its superblock cannot be read.
  public static func open(_ path: String, mode: Mode = .readOnly) throws -> HDF5File {
    try open(path, mode: mode, isolated: true)
  }

  /// Opens a file; `isolated`, it is first probed by a child process when ``HDF5Isolation`` is
  /// on.
  static func open(_ path: String, mode: Mode = .readOnly, isolated: Bool) throws -> HDF5File {
    do { try InputFile.requireRegular(path) } catch let error as FileReadError {
      throw HDF5Error.cannotOpen(file: path, reason: error.reason)
    }
    if isolated { try HDF5Isolation.check(path) }
    return try HDF5Library.locked {
      guard H5Fis_hdf5(path) > 0 else {
        H5Eclear2(snn_H5E_DEFAULT())
        throw HDF5Error.cannotOpen(
          file: path, reason: "not an HDF5 file (no HDF5 signature found; truncated or another format)")
      }
      let flags = mode == .readOnly ? snn_H5F_ACC_RDONLY() : snn_H5F_ACC_RDWR()
      let id = H5Fopen(path, flags, snn_H5P_DEFAULT())
      guard id >= 0 else {
        throw HDF5Error.cannotOpen(file: path, reason: HDF5Library.lastError())
      }
      return HDF5File(id: id, path: path)
    }
  }

  /// Creates a file, replacing any existing one when `overwrite` is true.
  public static func create(_ path: String, overwrite: Bool = true) throws -> HDF5File {
    try HDF5Library.locked {
      let flags = overwrite ? snn_H5F_ACC_TRUNC() : snn_H5F_ACC_EXCL()
      // No modification times in object headers: the same content gives the same bytes.
      let creation = H5Pcreate(snn_H5P_FILE_CREATE())
      defer { H5Pclose(creation) }
      H5Pset_obj_track_times(creation, false)
      let id = H5Fcreate(path, flags, creation, snn_H5P_DEFAULT())
      guard id >= 0 else {
        throw HDF5Error.cannotCreate(file: path, reason: HDF5Library.lastError())
      }
      return HDF5File(id: id, path: path)
    }
  }

  /// The root group `/`.
  public var root: HDF5Group {
    get throws { try HDF5Group.open(in: self, at: "/", relativeTo: id) }
  }

  /// Writes buffered data to disk.
  public func flush() throws {
    try HDF5Library.locked {
      guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else {
        throw HDF5Error.operationFailed(
          file: path, path: "/", operation: "flushing", reason: HDF5Library.lastError())
      }
    }
  }
}
