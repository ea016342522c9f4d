import Foundation

/// Keeps a crash inside libhdf5 from reaching the user.
///
/// HDF5 does not promise to read damaged or hostile files safely: a flipped byte can make the
/// library itself read out of bounds or abort. With isolation on, every file is first read in
/// full — every group, attribute and dataset the toolkit could touch — by a child process (the
/// same executable, told by the environment variable ``probeVariable`` to do only that). A child
/// killed by a signal, or one that does not finish in ``probeTimeout``, makes the open fail with
/// a clean "corrupt or unsupported HDF5 file" error; otherwise the file is read as usual, and
/// any ordinary error is reported by the reading itself. Each file is probed once per process, and its verdict kept.
///
/// The command-line tools turn isolation on at start (``enable()`` and ``runProbeIfAsked()``);
/// a library user who reads untrusted files can do the same.
public enum HDF5Isolation {
  /// The environment variable that makes a tool probe the file it names and exit.
  public static let probeVariable = "SNNKIT_HDF5_PROBE"
  /// How long a probe may take: 120 s.
  public static let probeTimeout: Double = 120

  private static let state = State()

  /// Turns isolation on for this process.
  public static func enable() { state.enabled = true }

  /// In a probe child, reads the file named by ``probeVariable`` in full and exits: 0 when the
  /// library read it, 1 on an ordinary error. Does nothing otherwise.
  public static func runProbeIfAsked() {
    guard let path = ProcessInfo.processInfo.environment[probeVariable] else { return }
    do {
      try readEverything(path)
      exit(0)
    } catch {
      exit(1)
    }
  }

  /// Reads every object of the file: the walk a probe child makes.
  /// - Throws: the first ordinary error.
  public static func readEverything(_ path: String) throws {
    let root = try HDF5File.open(path, isolated: false).root
    var budget = 100_000  // objects visited at most: a probe of a huge file still ends
    func visit(_ object: HDF5Object, depth: Int) throws {
      budget -= 1
      guard budget > 0, depth < 64 else { return }
      for name in try object.attributeNames() {
        let info = try object.attributeInfo(name)
        if info.type == .string {
          _ = try object.readStringAttribute(name)
        } else if info.type.isNumeric {
          _ = try object.readAttribute(name, as: Double.self)
        }
      }
      guard let group = object as? HDF5Group else { return }
      for name in try group.children() {
        switch group.kind(of: name) {
        case .group: try visit(try group.group(name), depth: depth + 1)
        case .dataset:
          let dataset = try group.dataset(name)
          try visit(dataset, depth: depth + 1)
          let type = try dataset.elementType
          if type == .string {
            _ = try dataset.readStrings()
          } else if type.isNumeric {
            _ = try dataset.read(as: Float.self)
          }
        default: continue
        }
      }
    }
    try visit(root, depth: 0)
  }

  /// Probes `path` in a child process when isolation is on.
  /// - Throws: ``HDF5Error/cannotOpen(file:reason:)`` when the child crashed or hung.
  static func check(_ path: String) throws {
    guard state.enabled, let key = state.key(path) else { return }
    if let verdict = state.verdict(key) {
      if let error = verdict { throw error }
      return
    }
    do {
      try probe(path)
      state.record(key, nil)
    } catch let error as HDF5Error {
      state.record(key, error)
      throw error
    }
  }

  private static func probe(_ path: String) throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    child.arguments = []
    child.environment = ProcessInfo.processInfo.environment.merging([probeVariable: path]) { $1 }
    child.standardInput = FileHandle.nullDevice
    child.standardOutput = FileHandle.nullDevice
    child.standardError = FileHandle.nullDevice
    let finished = DispatchSemaphore(value: 0)
    child.terminationHandler = { _ in finished.signal() }
    do { try child.run() } catch {
      throw HDF5Error.cannotOpen(file: path, reason: "cannot start the process that checks it: \(error)")
    }
    if finished.wait(timeout: .now() + probeTimeout) == .timedOut {
      child.terminate()
      finished.wait()
      throw HDF5Error.cannotOpen(
        file: path, reason: "corrupt or unsupported HDF5 file (libhdf5 did not finish reading it)")
    }
    if child.terminationReason == .uncaughtSignal {
      throw HDF5Error.cannotOpen(
        file: path,
        reason:
          "corrupt or unsupported HDF5 file (libhdf5 crashed reading it, signal \(child.terminationStatus))")
    }
  }

  private final class State: @unchecked Sendable {
    private let lock = NSLock()
    /// Each file's verdict: nil when it was read cleanly, else the error to give again.
    private var verdicts = [String: HDF5Error?]()
    private var on = false

    var enabled: Bool {
      get { lock.withLock { on } }
      set { lock.withLock { on = newValue } }
    }

    /// Device, inode, size and modification time: a file changed since its probe is probed again.
    func key(_ path: String) -> String? {
      var status = stat()
      guard stat(path, &status) == 0 else { return nil }
      return
        "\(status.st_dev):\(status.st_ino):\(status.st_size):\(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
    }

    /// nil when `key` was never probed; `.some(nil)` when it was read cleanly.
    func verdict(_ key: String) -> HDF5Error?? { lock.withLock { verdicts[key] } }
    func record(_ key: String, _ error: HDF5Error?) { lock.withLock { verdicts[key] = .some(error) } }
  }
}
