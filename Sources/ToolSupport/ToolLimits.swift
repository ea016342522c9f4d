import ArgumentParser

/// The ranges the tools accept for their numeric flags (docs/limits.md): each is checked before
/// any work starts, with a message naming the flag and its range.
public enum ToolLimits {
  /// Time steps of one simulation: 2²⁰. A step of the smallest network costs microseconds per
  /// image, so this is already hours for a test set; beyond it a typo (2⁶³) would run forever.
  public static let timesteps = 1 << 20
  /// Images in one batch, calibration set or selection: 10⁷, above any data set the tools load.
  public static let images = 10_000_000
  /// Worker threads: 1,024.
  public static let threads = 1024
  /// Training epochs: 10⁶.
  public static let epochs = 1_000_000
  /// A step size η₀ or a decay γ: (0, 1] (a larger step overshoots [0, 1]; docs/dynamics.md).
  public static let stepSize: ClosedRange<Double> = 0...1
  /// A membrane time constant τ: [1, 10⁹].
  public static let leak: ClosedRange<Double> = 1...1e9
  /// An initial membrane potential, as a fraction of the threshold: [0, 1].
  public static let initialMembrane: ClosedRange<Double> = 0...1

  /// Throws a usage error naming `flag` unless `value` lies in `range`.
  public static func check(_ value: Int, _ flag: String, in range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
      throw ValidationError("\(flag) must be in \(range.lowerBound)…\(range.upperBound), got \(value)")
    }
  }

  /// Whether `value` is finite and lies in `range` (open at the bottom when `openBelow`).
  public static func accepts(_ value: Double, in range: ClosedRange<Double>, openBelow: Bool = false) -> Bool
  {
    value.isFinite && range.contains(value) && !(openBelow && value == range.lowerBound)
  }

  /// Throws a usage error naming `flag` unless `value` is finite and lies in `range` (open at
  /// the bottom when `openBelow`).
  public static func check(
    _ value: Double, _ flag: String, in range: ClosedRange<Double>, openBelow: Bool = false
  ) throws {
    guard accepts(value, in: range, openBelow: openBelow) else {
      let low = openBelow ? "(" : "["
      throw ValidationError(
        "\(flag) must be a number in \(low)\(range.lowerBound), \(range.upperBound)], got \(value)")
    }
  }
}
