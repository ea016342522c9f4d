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
    try write(to: [path]) { try body($0[0]) }
  }

  /// Runs `body` on one temporary path per entry of `paths` and renames them all once `body`
  /// has written every one: files that belong together (a run's JSON and CSV) appear together
  /// or not at all. The temporaries are removed on failure, and by ``removeTemporariesOnSignal()``
  /// when the process is interrupted.
  public static func write(to paths: [String], _ body: ([String]) throws -> Void) throws {
    let temporaries = paths.map(temporaryPath)
    Pending.shared.add(temporaries)
    defer { Pending.shared.remove(temporaries) }
    do {
      try body(temporaries)
      for (temporary, path) in zip(temporaries, paths) {
        guard rename(temporary, path) == 0 else {
          throw FileWriteError(file: path, reason: String(cString: strerror(errno)))
        }
      }
    } catch {
      for temporary in temporaries { try? FileManager.default.removeItem(atPath: temporary) }
      throw error
    }
  }

  /// Writes several files atomically, as one (see ``write(to:_:)-([String],_)``).
  /// - Throws: ``FileWriteError`` naming the file that failed.
  public static func write(_ files: [(path: String, data: Data)]) throws {
    try write(to: files.map(\.path)) { temporaries in
      for (temporary, file) in zip(temporaries, files) {
        do { try file.data.write(to: URL(fileURLWithPath: temporary)) } catch {
          throw FileWriteError(file: file.path, reason: describe(error))
        }
      }
    }
  }

  static func temporaryPath(_ path: String) -> String {
    let url = URL(fileURLWithPath: path)
    return url.deletingLastPathComponent()
      .appendingPathComponent(
        ".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)"
      )
      .path
  }

  /// Makes SIGINT, SIGTERM and SIGHUP remove the temporary files being written before the
  /// process ends (with status 128 + the signal's number, as a shell reports it). The tools call
  /// it first thing.
  public static func removeTemporariesOnSignal() {
    for number in [SIGINT, SIGTERM, SIGHUP] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        for path in Pending.shared.all() { unlink(path) }
        FileHandle.standardError.write(Data("\ninterrupted; no output written\n".utf8))
        exit(128 + number)
      }
      source.resume()
      Pending.shared.keep(source)
    }
  }

  /// The temporary files being written now.
  final class Pending: @unchecked Sendable {
    static let shared = Pending()
    private let lock = NSLock()
    private var paths = Set<String>()
    private var sources = [DispatchSourceSignal]()

    func add(_ new: [String]) { lock.withLock { paths.formUnion(new) } }
    func remove(_ old: [String]) { lock.withLock { paths.subtract(old) } }
    func all() -> [String] { lock.withLock { Array(paths) } }
    func keep(_ source: DispatchSourceSignal) { lock.withLock { sources.append(source) } }
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
