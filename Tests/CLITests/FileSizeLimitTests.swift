import Foundation
import TestSupport
import Testing

/// The writes of the three tools that write large files, each with its output under `OUT/` and
/// (for `export`) its input under `IN/`.
let fullDiskCases: [(String, [String])] = [
  ("snnconv", ["convert", "models/mlp.h5", "--calibration", "50", "-o", "OUT/net.snn.h5"]),
  (
    "snntrain",
    ["fit", "--model", "mlp", "--epochs", "1", "--limit", "200", "--test-limit", "0", "-o", "OUT/m.h5"]
  ),
  ("snnconv", ["export", "IN/mlp-if.snn.h5", "-o", "OUT/mlp.nir"]),
]

/// Runs one of ``fullDiskCases`` with its output in `outputs` (through `run`) and checks that
/// the tool reported `message`, exited 1 without a signal and left nothing in `outputs`.
func expectCleanFailure(
  _ tool: String, _ arguments: [String], outputs: String, message: String,
  run: (String, [String]) throws -> ToolOutcome
) throws {
  let inputs = try makeTemporaryDirectory("full-disk-in")
  if arguments.contains("IN/mlp-if.snn.h5") {
    let convert = try runTool(
      "snnconv",
      [
        "convert", "models/mlp.h5", "--dynamics", "if", "--calibration", "50", "-o",
        inputs.path + "/mlp-if.snn.h5",
      ])
    try #require(convert.status == 0, "\(convert.stderr)")
  }
  let resolved = arguments.map {
    $0.replacingOccurrences(of: "OUT/", with: outputs + "/").replacingOccurrences(
      of: "IN/", with: inputs.path + "/")
  }
  let outcome = try run(tool, resolved)
  #expect(!outcome.signaled, "\(tool) ended by signal \(outcome.status): \(outcome.stderr.suffix(600))")
  #expect(outcome.status == 1, "\(outcome.stderr.suffix(600))")
  #expect(outcome.stderr.contains(message), "\(outcome.stderr.suffix(600))")
  let left = try FileManager.default.contentsOfDirectory(atPath: outputs)
  #expect(left.isEmpty, "left behind: \(left)")
}

/// Writing past a file-size limit (`ulimit -f`), as on a full disk: the tool reports the failed
/// write and exits 1 — no signal, neither the one the limit sends nor a crash on the way out —
/// and leaves nothing behind, neither the output nor its temporary file.
@Suite struct FileSizeLimitTests {
  @Test(arguments: fullDiskCases)
  func aWriteThatDoesNotFitEndsCleanly(tool: String, arguments: [String]) throws {
    try expectCleanFailure(
      tool, arguments, outputs: try makeTemporaryDirectory("file-size-out").path, message: "File too large"
    ) { try runToolUnderFileSizeLimit(kilobytes: 16, $0, $1) }
  }
}

/// The same writes onto a real full file system: a 16 KiB tmpfs, where the machine lets the
/// tests mount one (as root); skipped elsewhere. The tool reports "No space left on device",
/// exits 1 and leaves nothing on it.
@Suite(.enabled(if: SmallFileSystem.canMount, "no permission to mount a tmpfs here; skipping"))
struct FullFileSystemTests {
  @Test(arguments: fullDiskCases)
  func aWriteOntoAFullFileSystemEndsCleanly(tool: String, arguments: [String]) throws {
    let full = try SmallFileSystem(kilobytes: 16)
    defer { full.unmount() }
    try expectCleanFailure(tool, arguments, outputs: full.path, message: "No space left on device") {
      try runToolOutcome($0, $1)
    }
  }
}

/// A tmpfs of a few KiB mounted on a fresh directory, for as long as a test needs it.
struct SmallFileSystem {
  let path: String

  init(kilobytes: Int) throws {
    path = try makeTemporaryDirectory("small-fs").path
    let mount = try Self.runOutcome("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path])
    guard mount.status == 0 else { throw CocoaError(.fileWriteNoPermission) }
  }

  func unmount() { _ = try? Self.runOutcome("/bin/umount", [path]) }

  /// Whether a tmpfs can be mounted here (tried once).
  static let canMount: Bool = {
    guard let small = try? SmallFileSystem(kilobytes: 4) else { return false }
    small.unmount()
    return true
  }()

  static func runOutcome(_ command: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    process.waitUntilExit()
    return (
      process.terminationStatus,
      String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    )
  }
}

/// A model too deep for the memory the process may use is refused before training, with the
/// sizes and what to change, exit 1 and no output: 30,000 ReLU layers on 784 values keep
/// about 11 GiB of activations for 128 images, over an 8 GiB address-space limit (it once died
/// of a failed allocation, signal 6).
@Suite struct MemoryLimitTests {
  @Test func aModelTooDeepForTheMemoryIsRefused() throws {
    let directory = try makeTemporaryDirectory("memory-limit")
    let layers =
      [#"{"type": "flatten"}"#]
      + [String](repeating: #"{"type": "activation", "function": "relu"}"#, count: 30_000)
      + [#"{"type": "dense", "units": 10}"#]
    let description =
      #"{"name": "deep", "input": [28, 28, 1], "layers": ["# + layers.joined(separator: ",") + "]}"
    let path = directory.appendingPathComponent("deep.json").path
    try description.write(toFile: path, atomically: true, encoding: .utf8)
    let output = directory.appendingPathComponent("deep.h5").path
    let outcome = try runToolUnderMemoryLimit(
      kilobytes: 8 << 20, "snntrain",
      [
        "fit", "--model", path, "--epochs", "1", "--limit", "256", "--test-limit", "0", "--threads", "2",
        "-o", output,
      ])
    #expect(!outcome.signaled, "ended by signal \(outcome.status): \(outcome.stderr.suffix(600))")
    #expect(outcome.status == 1, "\(outcome.stderr.suffix(600))")
    #expect(
      outcome.stderr.contains("activations of 128 images through 30003 nodes")
        && outcome.stderr.contains("more than the 8.0 GiB") && outcome.stderr.contains("--batch-size"),
      "\(outcome.stderr.suffix(600))")
    #expect(!FileManager.default.fileExists(atPath: output))
  }
}
