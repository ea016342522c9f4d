import Datasets
import Foundation
import Tensor
import Testing

/// The toolkit's seeded generator, so tests see the same numbers on every machine and run.
public typealias SeededRandom = SplitMix64

/// Checks `|actual - expected| <= atol + rtol * |expected|` elementwise and reports the first
/// offending index with both values.
public func assertClose<T: BinaryFloatingPoint>(
  _ actual: [T], _ expected: [T], rtol: T = 1e-5, atol: T = 1e-6,
  _ message: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
  guard actual.count == expected.count else {
    Issue.record(
      "count \(actual.count) != expected \(expected.count) \(message)", sourceLocation: sourceLocation)
    return
  }
  for index in actual.indices {
    let a = actual[index]
    let e = expected[index]
    if a.isNaN && e.isNaN { continue }
    if a == e { continue }
    if !(abs(a - e) <= atol + rtol * abs(e)) {
      Issue.record(
        "element \(index): \(a) vs expected \(e) (|diff| \(abs(a - e)), rtol \(rtol), atol \(atol)) \(message)",
        sourceLocation: sourceLocation)
      return
    }
  }
}

/// A fresh, empty directory under the system temporary directory.
public func makeTemporaryDirectory(_ label: String = "snnkit-test") throws -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// The repository root, found from this source file's location.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a program and returns its exit status and combined output. Python runs Keras on JAX
/// (`KERAS_BACKEND=jax`, unless the environment chooses): Keras 3 otherwise imports TensorFlow,
/// which the interoperability tests do not install.
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String)
{
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = [executable] + arguments
  process.environment = ProcessInfo.processInfo.environment.merging(["KERAS_BACKEND": "jax"]) { current, _ in
    current
  }
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Whether `python3` can import every module named (used to skip interoperability tests cleanly
/// on machines without the Python side; CI installs it).
public func pythonHas(_ modules: String...) -> Bool {
  let probe = "import " + modules.joined(separator: ", ")
  return (try? runProcess("python3", ["-c", probe]).status) == 0
}

/// The directory holding the built tools (`snntrain`, `snnconv`, `snnsim`): the one the test
/// runner itself was built into.
public let productsDirectory: URL = {
  var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
  while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("snnconv").path)
  {
    url.deleteLastPathComponent()
  }
  return url
}()

/// Runs one of the built tools with `arguments` from the repository root, with `environment`
/// added to the test runner's; returns its exit status, standard output and standard error
/// separately.
public func runTool(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (
  status: Int32, stdout: String, stderr: String
) {
  let outcome = try runToolOutcome(tool, arguments, environment: environment)
  return (outcome.status, outcome.stdout, outcome.stderr)
}

/// How a tool run ended, for tests that must tell an exit from a crash.
public struct ToolOutcome: Sendable {
  /// The exit status, or the signal number when ``signaled``.
  public let status: Int32
  /// Whether a signal ended the process (a trap, an abort, a segmentation fault).
  public let signaled: Bool
  public let stdout: String
  public let stderr: String
}

/// Runs one of the built tools with `arguments` from the repository root (standard input
/// empty), with `environment` added to the test runner's, and says how it ended.
public func runToolOutcome(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws
  -> ToolOutcome
{
  try runOutcome(productsDirectory.appendingPathComponent(tool), arguments, environment: environment)
}

/// Runs one of the built tools from the repository root under a file-size limit (`ulimit -f`, in
/// KiB), as on a disk that fills up.
public func runToolUnderFileSizeLimit(kilobytes: Int, _ tool: String, _ arguments: [String]) throws
  -> ToolOutcome
{
  try runToolUnderLimit("-f", kilobytes, tool, arguments)
}

/// Runs one of the built tools from the repository root under an address-space limit
/// (`ulimit -v`, in KiB), as on a machine with that much memory.
public func runToolUnderMemoryLimit(kilobytes: Int, _ tool: String, _ arguments: [String]) throws
  -> ToolOutcome
{
  try runToolUnderLimit("-v", kilobytes, tool, arguments)
}

/// Runs a built tool through `/bin/sh` with `ulimit FLAG VALUE` set first.
private func runToolUnderLimit(_ flag: String, _ value: Int, _ tool: String, _ arguments: [String]) throws
  -> ToolOutcome
{
  try runOutcome(
    URL(fileURLWithPath: "/bin/sh"),
    [
      "-c", "ulimit \(flag) \(value) && exec \"$0\" \"$@\"",
      productsDirectory.appendingPathComponent(tool).path,
    ]
      + arguments, environment: [:])
}

/// Where Open MPI's `mpirun` is, if installed (Debian package `openmpi-bin`).
public let mpirun: String? = ["/usr/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

extension Trait where Self == ConditionTrait {
  /// Skips a test or suite, saying why, when Open MPI's `mpirun` is not installed.
  public static var needsMPI: Self {
    .enabled(if: mpirun != nil, "Open MPI is not installed (Debian package 'openmpi-bin'); skipping")
  }
}

/// Runs one of the built tools as a job of `ranks` processes under `mpirun` (oversubscribed: the
/// machine may have fewer cores; allowed as root, as CI runs), from the repository root.
public func runToolInJob(
  ranks: Int, _ tool: String, _ arguments: [String], environment: [String: String] = [:]
) throws -> ToolOutcome {
  try runOutcome(
    URL(fileURLWithPath: mpirun ?? "/usr/bin/mpirun"),
    ["--oversubscribe", "-np", String(ranks), productsDirectory.appendingPathComponent(tool).path]
      + arguments,
    environment: environment.merging(
      ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]) { current, _ in current })
}

func runOutcome(_ executable: URL, _ arguments: [String], environment: [String: String]) throws -> ToolOutcome
{
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  process.currentDirectoryURL = repositoryRoot
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  process.standardInput = FileHandle.nullDevice
  try process.run()
  let stdout = out.fileHandleForReading.readDataToEndOfFile()
  let stderr = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return ToolOutcome(
    status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
    stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}

/// Whether Debian's Fashion-MNIST files (package `dataset-fashion-mnist`) are installed.
public let fashionMNISTIsInstalled = ["train", "t10k"].allSatisfy { prefix in
  ["images-idx3", "labels-idx1"].allSatisfy {
    FileManager.default.fileExists(atPath: "\(DataSource.fashionMNISTDirectory)/\(prefix)-\($0)-ubyte.gz")
  }
}

extension Trait where Self == ConditionTrait {
  /// Skips a test or suite, saying why, when Fashion-MNIST is not installed.
  public static var needsFashionMNIST: Self {
    .enabled(
      if: fashionMNISTIsInstalled,
      "Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (tools/setup does)")
  }
}

/// Writes float32 `values` of `shape` as a NumPy `.npy` file (format 1.0, little-endian, C order).
public func writeNPY(shape: [Int], values: [Float], to url: URL) throws {
  try writeNPY(descriptor: "<f4", shape: shape, values: values, to: url)
}

/// Writes int64 `values` (labels, say) as a one-dimensional NumPy `.npy` file.
public func writeNPY(labels values: [Int], to url: URL) throws {
  try writeNPY(descriptor: "<i8", shape: [values.count], values: values.map(Int64.init), to: url)
}

private func writeNPY<T>(descriptor: String, shape: [Int], values: [T], to url: URL) throws {
  var header =
    "{'descr': '\(descriptor)', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))\(shape.count == 1 ? "," : "")), }"
  // Magic, version 1.0, header length; the header padded with spaces to a multiple of 64.
  while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
  header += "\n"
  var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
  data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
  data.append(contentsOf: Array(header.utf8))
  values.withUnsafeBytes { data.append(contentsOf: $0) }
  try data.write(to: url)
}

/// Reads a float32, little-endian, C-order NumPy `.npy` file (format 1.0) as written by numpy's
/// `np.save` for fixtures: its shape and values.
public func readNPY(_ url: URL) throws -> (shape: [Int], values: [Float]) {
  let data = try Data(contentsOf: url)
  let headerLength = Int(data[8]) | Int(data[9]) << 8
  let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
  precondition(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"), header)
  let shapeText = header[header.range(of: "'shape': (")!.upperBound...].prefix { $0 != ")" }
  let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
  let body = data[(10 + headerLength)...]
  let values = body.withUnsafeBytes { bytes in
    (0..<(body.count / 4)).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
  }
  precondition(values.count == shape.reduce(1, *), "\(url.path): \(values.count) values for \(shape)")
  return (shape, values)
}

/// The fields of one CSV line, with RFC 4180 quoting ("a, b" is one field, "" a quote).
public func csvFields(_ line: String) -> [String] {
  var fields = [String]()
  var field = ""
  var quoted = false
  var characters = Array(line)[...]
  while let character = characters.popFirst() {
    if quoted {
      if character == "\"" {
        if characters.first == "\"" {
          field.append("\"")
          characters.removeFirst()
        } else {
          quoted = false
        }
      } else {
        field.append(character)
      }
    } else if character == "\"" {
      quoted = true
    } else if character == "," {
      fields.append(field)
      field = ""
    } else {
      field.append(character)
    }
  }
  return fields + [field]
}
