import Foundation

/// Writes a file through a temporary sibling and renames it into place, so that a failure or an
/// interruption never leaves a half-written file at `path`.
/// - Parameter write: writes the complete file at the path it is given.
public func writeAtomically(to path: String, _ write: (String) throws -> Void) throws {
  let url = URL(fileURLWithPath: path)
  let temporary = url.deletingLastPathComponent()
    .appendingPathComponent(".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
    .path
  do {
    try write(temporary)
    guard rename(temporary, path) == 0 else {
      throw ModelIOError.cannotWrite(file: path, reason: String(cString: strerror(errno)))
    }
  } catch {
    try? FileManager.default.removeItem(atPath: temporary)
    throw error
  }
}
