/// A small, fast, seedable random number generator (SplitMix64, Steele, Lea & Flood 2014): the
/// same seed gives the same sequence on every machine, which makes training reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// `count` values uniform in `range`.
  @inlinable
  public mutating func uniform<T: BinaryFloatingPoint>(
    _ count: Int, in range: ClosedRange<T> = -1...1
  ) -> [T] where T.RawSignificand: FixedWidthInteger {
    (0..<count).map { _ in T.random(in: range, using: &self) }
  }

  /// A generator for a sub-task, derived from this one's state and `stream` so that streams are
  /// independent of each other and of how much this generator is used later.
  public func split(_ stream: UInt64) -> SplitMix64 {
    var copy = SplitMix64(seed: state ^ (stream &* 0xD1B5_4A32_D192_ED03))
    _ = copy.next()
    return copy
  }
}
