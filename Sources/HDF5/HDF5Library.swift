internal import CHDF5
import Foundation

/// Process-wide access to libhdf5.
///
/// libhdf5 may be built without thread safety, so every call into the library from this module
/// runs under one recursive lock. Each entry also turns off HDF5's own printing of error stacks to
/// stderr (in thread-safe builds that setting is per thread): failures are reported as
/// ``HDF5Error`` values instead.
enum HDF5Library {
  private static let lock: NSRecursiveLock = {
    let lock = NSRecursiveLock()
    lock.name = "HDF5Library"
    return lock
  }()

  private static let initialized: Bool = {
    // HDF5 locks every open file with flock(), and a child process started while a file is open
    // inherits the lock and keeps it after the parent closes the file, so an unrelated
    // subprocess makes the next open fail with EWOULDBLOCK. The toolkit writes every file
    // through a temporary name and an atomic rename, so readers never see a file being written;
    // locking is turned off unless the user has set HDF5_USE_FILE_LOCKING themselves.
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0)
    // libhdf5 closes every identifier still open when the process exits. A file whose write
    // failed (a full disk, a file-size limit) cannot be closed cleanly, and closing it again from
    // that exit handler crashed inside the library after the error had been reported. Every file
    // the toolkit writes is flushed and closed by its owner, so the handler is turned off (it
    // must be, before the library's first use).
    H5dont_atexit()
    H5open()
    // A file must not make the library load code: filter plugins are turned off (the toolkit
    // reads and writes only built-in filters).
    H5PLset_loading_state(0)
    return true
  }()

  /// Runs `body` with exclusive access to libhdf5.
  static func locked<R>(_ body: () throws -> R) rethrows -> R {
    lock.lock()
    defer { lock.unlock() }
    _ = initialized
    H5Eset_auto2(snn_H5E_DEFAULT(), nil, nil)
    return try body()
  }

  /// HDF5's most specific message for the failure that just happened; clears the error stack.
  static func lastError() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    snn_last_error(&buffer)
    return condensed(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
  }

  /// A system-call failure as one line: HDF5 reports one as "file write failed: time = …,
  /// filename = …, file descriptor = …, errno = 27, error message = 'File too large', buf = …",
  /// over two lines; what matters is the operation and the system's message.
  static func condensed(_ message: String) -> String {
    guard let time = message.range(of: ": time = "),
      let start = message.range(of: "error message = '"),
      let end = message[start.upperBound...].firstIndex(of: "'")
    else { return message }
    return "\(message[..<time.lowerBound]): \(message[start.upperBound..<end])"
  }
}

/// Joins an HDF5 path and a relative name the way HDF5 resolves them.
func joinPath(_ base: String, _ name: String) -> String {
  if name.hasPrefix("/") { return name }
  return base.hasSuffix("/") ? base + name : base + "/" + name
}
