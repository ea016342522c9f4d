import Foundation

/// The checks every tool makes on the files it will write, before it starts any work: a bad
/// output path found after an hour of simulation is an hour lost, and an output that is also an
/// input would be destroyed by its own result.
public enum OutputFile {
  /// Checks that `path` can be written: its directory exists and is writable, it is not a
  /// directory, and it is none of `inputs` (compared as files, through links).
  /// - Throws: ``FileWriteError`` naming `path`.
  public static func check(_ path: String, notOverwriting inputs: [String] = []) throws {
    let directory = (path as NSString).deletingLastPathComponent
    let parent = directory.isEmpty ? "." : directory
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue
    else {
      throw FileWriteError(file: path, reason: "the directory '\(parent)' does not exist")
    }
    guard access(parent, W_OK) == 0 else {
      throw FileWriteError(file: path, reason: "the directory '\(parent)' is not writable")
    }
    var status = stat()
    if stat(path, &status) == 0 {
      if status.st_mode & S_IFMT == S_IFDIR { throw FileWriteError(file: path, reason: "it is a directory") }
      for input in inputs {
        var other = stat()
        if stat(input, &other) == 0 && other.st_dev == status.st_dev && other.st_ino == status.st_ino {
          throw FileWriteError(
            file: path, reason: "it is also an input ('\(input)'), which it would overwrite")
        }
      }
    }
  }

  /// Checks a directory the tool will create files in (creating it is left to the tool): it
  /// exists and is writable, or can be created, and is not a file.
  /// - Throws: ``FileWriteError`` naming `path`.
  public static func checkDirectory(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else {
        throw FileWriteError(file: path, reason: "it exists and is not a directory")
      }
      guard access(path, W_OK) == 0 else { throw FileWriteError(file: path, reason: "it is not writable") }
      return
    }
    // Not there yet: its nearest existing ancestor must be a writable directory.
    var ancestor = (path as NSString).deletingLastPathComponent
    while !ancestor.isEmpty && !FileManager.default.fileExists(atPath: ancestor) {
      ancestor = (ancestor as NSString).deletingLastPathComponent
    }
    let existing = ancestor.isEmpty ? "." : ancestor
    guard FileManager.default.fileExists(atPath: existing, isDirectory: &isDirectory), isDirectory.boolValue,
      access(existing, W_OK) == 0
    else {
      throw FileWriteError(file: path, reason: "'\(existing)' is not a writable directory")
    }
  }
}
