internal import CBLAS

/// The number of threads OpenBLAS uses inside one call.
///
/// Small GEMMs — a convolution of a few images, a dense layer of one batch shard — run no faster
/// on several BLAS threads, and the idle threads' spinning costs more than the call; callers that
/// parallelize at a coarser grain (batch shards on their own threads) run BLAS on one thread.
public enum BLASThreads {
  /// Runs `body` with OpenBLAS limited to `threads` threads, then restores the previous count.
  public static func with<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    let previous = openblas_get_num_threads()
    openblas_set_num_threads(Int32(max(threads, 1)))
    defer { openblas_set_num_threads(previous) }
    return try body()
  }
}
