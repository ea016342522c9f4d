import AtomicFile

/// What every command that writes does before its work: interrupting it removes the temporary
/// files being written, and every file and directory it will write is checked now — writable,
/// and not one of its inputs — rather than after the work is done.
/// - Throws: ``FileWriteError`` naming the first output that cannot be written.
public func prepareOutputs(files: [String] = [], directories: [String] = [], inputs: [String] = []) throws {
  AtomicFile.removeTemporariesOnSignal()
  for file in files { try OutputFile.check(file, notOverwriting: inputs) }
  for directory in directories { try OutputFile.checkDirectory(directory) }
}
