#if canImport(Glibc)
  internal import CMalloc
#endif

/// Process-wide allocator settings for long numeric runs.
public enum MemoryTuning {
  /// Asks glibc's allocator to keep freed memory for reuse instead of returning it to the system
  /// after every large tensor is released. Training allocates tensors of the same sizes every
  /// step; without this each step page-faults them in afresh (measured: 10–15 % of a CNN epoch).
  public static func keepFreedMemory() {
    #if canImport(Glibc)
      _ = mallopt(M_MMAP_THRESHOLD, 256 << 20)
      _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)
      _ = mallopt(M_TOP_PAD, 64 << 20)
    #endif
  }
}
