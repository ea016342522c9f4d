import CFuzzer
import Foundation

/// Runs libFuzzer over `body`, which gets each input and must return normally for every input
/// it is given (a thrown error is a normal, clean refusal; only a crash is a finding).
///
/// Every harness calls this from its `main`: SwiftPM gives an executable its own entry point,
/// so the harnesses start libFuzzer's driver themselves rather than linking its `main`.
public func runFuzzer(_ body: @escaping (Data) -> Void) -> Never {
  nonisolated(unsafe) var argc = CommandLine.argc
  nonisolated(unsafe) var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  FuzzTarget.body = body
  exit(
    LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
      FuzzTarget.body(bytes.map { Data(bytes: $0, count: count) } ?? Data())
      return 0
    })
}

/// The input handler, global because libFuzzer's callback is a C function without a context.
enum FuzzTarget {
  nonisolated(unsafe) static var body: (Data) -> Void = { _ in }
}

/// A scratch file path in memory-backed storage (/dev/shm where there is one), private to this
/// process, for readers that take a path.
public func scratchPath(_ name: String) -> String {
  let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
  return (directory as NSString).appendingPathComponent("snnkit-fuzz-\(getpid())-\(name)")
}

/// Writes `data` to `path`, replacing what was there.
public func put(_ data: Data, at path: String) {
  guard FileManager.default.createFile(atPath: path, contents: data) else {
    fatalError("cannot write the scratch file \(path)")
  }
}
