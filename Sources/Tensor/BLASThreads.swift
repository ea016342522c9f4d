internal import CBLAS

/// OpenBLAS runs on one thread in this toolkit, always.
///
/// The toolkit parallelizes at a coarser grain on its own threads (the simulator gives whole
/// batches to workers), and the GEMMs of a batch shard are too small for OpenBLAS's threads to
/// pay for their spinning. One thread also makes results reproducible: OpenBLAS splits the work
/// of a call differently with a different thread count, and the last bits of a product change with
/// it — a network trained or simulated on a 2-core machine must match one run on 64 cores.
///
/// The count is set once, before the first product, and never changed: changing it while another
/// thread is inside OpenBLAS would be a data race.
enum BLASThreads {
  /// Evaluated (once, thread-safely) by every product before it calls OpenBLAS.
  static let single: Void = openblas_set_num_threads(1)
}
