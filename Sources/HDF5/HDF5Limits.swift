/// The largest objects the toolkit reads from an HDF5 file (docs/limits.md). A file states its
/// shapes itself, and a damaged or hostile one can claim 2⁶⁴ elements; every read checks the
/// claimed size against these limits before it allocates anything.
public enum HDF5Limits {
  /// Elements of one dataset or attribute: 2²⁸ (1 GiB of float32) — far above any weight tensor
  /// the toolkit converts or simulates, far below what would exhaust the memory of the machines
  /// it runs on.
  public static let maximumElements = 1 << 28
  /// Bytes of one fixed-length string attribute or dataset: 64 MiB.
  public static let maximumStringBytes = 1 << 26

  /// The product of `dimensions`, or nil when a dimension is negative or the product overflows.
  public static func elementCount(_ dimensions: [Int]) -> Int? {
    var count = 1
    for dimension in dimensions {
      guard dimension >= 0 else { return nil }
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      if overflow { return nil }
      count = product
    }
    return count
  }
}
