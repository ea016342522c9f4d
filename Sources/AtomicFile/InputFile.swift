import Foundation

/// Why an input file could not be read.
public struct FileReadError: Error, Equatable, Sendable, CustomStringConvertible {
  public let file: String
  public let reason: String

  public init(file: String, reason: String) {
    self.file = file
    self.reason = reason
  }

  public var description: String { "cannot read \(file): \(reason)" }
}

/// The checks every reader of the toolkit makes before it opens a file a user names: the file
/// exists and is a regular file — a named pipe would block the tool and a device would stream
/// forever — and a file read whole is no larger than its reader's limit (docs/limits.md).
public enum InputFile {
  /// - Throws: ``FileReadError`` naming the file: missing, unreadable, or not a regular file.
  /// - Returns: the file's size in bytes.
  @discardableResult
  public static func requireRegular(_ path: String) throws -> Int {
    var status = stat()
    guard stat(path, &status) == 0 else {
      throw FileReadError(
        file: path, reason: errno == ENOENT ? "no such file" : String(cString: strerror(errno)))
    }
    guard status.st_mode & S_IFMT == S_IFREG else {
      throw FileReadError(file: path, reason: "not a regular file (\(kind(status.st_mode)))")
    }
    return Int(status.st_size)
  }

  /// Reads a whole regular file of at most `limit` bytes.
  /// - Throws: ``FileReadError`` naming the file.
  public static func read(_ path: String, limit: Int) throws -> Data {
    let size = try requireRegular(path)
    guard size <= limit else {
      throw FileReadError(file: path, reason: "\(size) bytes, more than the \(limit) this reader accepts")
    }
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw FileReadError(file: path, reason: String(cString: strerror(errno)))
    }
    defer { try? handle.close() }
    do {
      // One more byte than allowed: a file that grew since the check is refused, not truncated.
      let data = try handle.read(upToCount: limit + 1) ?? Data()
      guard data.count <= limit else {
        throw FileReadError(file: path, reason: "more than the \(limit) bytes this reader accepts")
      }
      return data
    } catch let error as FileReadError {
      throw error
    } catch {
      throw FileReadError(file: path, reason: AtomicFile.describe(error))
    }
  }

  /// Names a file type that is not a regular file.
  static func kind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "a directory"
    case S_IFIFO: return "a named pipe"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "a special file"
    }
  }
}
