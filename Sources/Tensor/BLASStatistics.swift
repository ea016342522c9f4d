import Synchronization

/// Opt-in accounting of the time spent inside BLAS GEMM calls, for benchmarks that report which
/// share of a workload is BLAS. Off by default; when off, each GEMM pays one relaxed atomic load.
public enum BLASStatistics {
  private static let enabled = Atomic<Bool>(false)
  private static let nanoseconds = Atomic<Int>(0)
  private static let calls = Atomic<Int>(0)

  /// Starts counting from zero.
  public static func start() {
    nanoseconds.store(0, ordering: .relaxed)
    calls.store(0, ordering: .relaxed)
    enabled.store(true, ordering: .relaxed)
  }

  /// Stops counting and returns the time spent in GEMM calls since ``start()``.
  public static func stop() -> (seconds: Double, calls: Int) {
    enabled.store(false, ordering: .relaxed)
    return (Double(nanoseconds.load(ordering: .relaxed)) * 1e-9, calls.load(ordering: .relaxed))
  }

  /// Runs `body`, adding its duration to the count when counting is on.
  @inline(__always)
  static func timed(_ body: () -> Void) {
    guard enabled.load(ordering: .relaxed) else { return body() }
    let start = ContinuousClock.now
    body()
    let elapsed = ContinuousClock.now - start
    let (seconds, attoseconds) = elapsed.components
    nanoseconds.add(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000), ordering: .relaxed)
    calls.add(1, ordering: .relaxed)
  }
}
