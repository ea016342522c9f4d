import Foundation

/// Why a file could not be written. Nothing is left at the destination when it is thrown.
public struct FileWriteError: Error, Equatable, Sendable, CustomStringConvertible {
  public let file: String
  public let reason: String

  public init(file: String, reason: String) {
    self.file = file
    self.reason = reason
  }

  public var description: String { "cannot write \(file): \(reason)" }
}

/// Whole-file writes that never leave a half-written file behind: every writer of the toolkit
/// (models, spiking networks, run records, reports, CSV) goes through here.
///
/// The content is written to a temporary sibling (`.NAME.partial-PID`, in the same directory so
/// that the rename stays on one file system) and renamed over `path` only once it is complete. A
/// failure or an interruption leaves the previous file, if any, untouched.
public enum AtomicFile {
  /// Runs `body` on a temporary path and renames the result to `path`.
  /// - Parameter body: writes the complete file at the path it is given.
  /// - Throws: whatever `body` throws, or ``FileWriteError`` when the rename fails; the
  ///   temporary file is removed in both cases.
  public static func write(to path: String, _ body: (String) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent()
      .appendingPathComponent(
        ".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)"
      )
      .path
    do {
      try body(temporary)
      guard rename(temporary, path) == 0 else {
        throw FileWriteError(file: path, reason: String(cString: strerror(errno)))
      }
    } catch {
      try? FileManager.default.removeItem(atPath: temporary)
      throw error
    }
  }

  /// Writes `data` to `path` atomically.
  /// - Throws: ``FileWriteError`` naming `path`.
  public static func write(_ data: Data, to path: String) throws {
    try write(to: path) { temporary in
      do { try data.write(to: URL(fileURLWithPath: temporary)) } catch {
        throw FileWriteError(file: path, reason: describe(error))
      }
    }
  }

  /// Writes `text` as UTF-8 to `path` atomically.
  /// - Throws: ``FileWriteError`` naming `path`.
  public static func write(_ text: String, to path: String) throws {
    try write(Data(text.utf8), to: path)
  }

  /// The underlying POSIX reason when Foundation gives one ("Permission denied"), else the
  /// error's own description.
  static func describe(_ error: Error) -> String {
    let nsError = error as NSError
    if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
      underlying.domain == NSPOSIXErrorDomain
    {
      return String(cString: strerror(Int32(underlying.code)))
    }
    return nsError.localizedDescription
  }
}
