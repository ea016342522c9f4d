import CMPI
import Foundation

/// The processes of one job: those `mpirun` (Open MPI) or Slurm's `srun` started together, or
/// this process alone. The only place the toolkit touches MPI (docs/scaling.md).
///
/// MPI is initialized only when a launcher started the process (it sets `OMPI_COMM_WORLD_SIZE`,
/// `PMIX_RANK` or `PMI_SIZE`); a tool started on its own is a job of one and makes no MPI call.
/// Every collective below is then the identity. Collectives are called from the main thread
/// only (MPI_THREAD_FUNNELED): worker threads simulate and train, the main thread exchanges.
public final class Communicator: @unchecked Sendable {
  /// The job this process belongs to, set up on first use.
  public static let world = Communicator()

  /// This process's number, 0 ..< ``size``; rank 0 reports and writes files.
  public let rank: Int
  public let size: Int
  /// Whether MPI was initialized (a launcher started the process).
  public let usesMPI: Bool

  public var isRoot: Bool { rank == 0 }

  /// The worker threads a rank uses when not told: its share of the machine's cores among the
  /// job's ranks on this machine (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`, Slurm's
  /// `SLURM_NTASKS_PER_NODE`), at least one; nil outside a job of several processes (every core).
  public var defaultThreads: Int? {
    guard size > 1 else { return nil }
    let environment = ProcessInfo.processInfo.environment
    let local =
      ["OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"].lazy.compactMap {
        environment[$0].flatMap(Int.init)
      }
      .first ?? 1
    return max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
  }

  private init() {
    let environment = ProcessInfo.processInfo.environment
    let launched = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    guard launched else {
      (rank, size, usesMPI) = (0, 1, false)
      return
    }
    var provided: Int32 = 0
    MPI_Init_thread(nil, nil, snnkit_mpi_thread_funneled(), &provided)
    var rank: Int32 = 0
    var size: Int32 = 0
    MPI_Comm_rank(snnkit_mpi_comm_world(), &rank)
    MPI_Comm_size(snnkit_mpi_comm_world(), &size)
    (self.rank, self.size, usesMPI) = (Int(rank), Int(size), true)
    atexit { MPI_Finalize() }
  }

  /// Waits for every process.
  public func barrier() {
    guard size > 1 else { return }
    MPI_Barrier(snnkit_mpi_comm_world())
  }

  /// Element-wise maxima over the processes, on every process (exact).
  public func maximum(_ values: inout [Double]) { reduce(&values, snnkit_mpi_double(), snnkit_mpi_max()) }

  private func reduce<T>(_ values: inout [T], _ type: MPI_Datatype, _ op: MPI_Op) {
    guard size > 1, !values.isEmpty else { return }
    values.withUnsafeMutableBytes { buffer in
      _ = MPI_Allreduce(
        snnkit_mpi_in_place(), buffer.baseAddress, Int32(buffer.count / MemoryLayout<T>.stride), type, op,
        snnkit_mpi_comm_world())
    }
  }

  /// Element-wise sums over the processes computed on rank 0 and broadcast from it, so that
  /// every process holds the very same bits (what an update every process applies needs).
  public func sumFromRoot(_ values: inout [Float]) { reduceFromRoot(&values, snnkit_mpi_float()) }
  public func sumFromRoot(_ values: inout [Double]) { reduceFromRoot(&values, snnkit_mpi_double()) }

  private func reduceFromRoot<T>(_ values: inout [T], _ type: MPI_Datatype) {
    guard size > 1, !values.isEmpty else { return }
    let count = Int32(values.count)
    values.withUnsafeMutableBytes { buffer in
      if isRoot {
        _ = MPI_Reduce(
          snnkit_mpi_in_place(), buffer.baseAddress, count, type, snnkit_mpi_sum(), 0, snnkit_mpi_comm_world()
        )
      } else {
        _ = MPI_Reduce(buffer.baseAddress, nil, count, type, snnkit_mpi_sum(), 0, snnkit_mpi_comm_world())
      }
      _ = MPI_Bcast(buffer.baseAddress, count, type, 0, snnkit_mpi_comm_world())
    }
  }

  /// Every process's bytes, in rank order, on every process.
  public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
    guard size > 1 else { return [bytes] }
    var counts = [Int32](repeating: 0, count: size)
    var mine = Int32(bytes.count)
    MPI_Allgather(&mine, 1, snnkit_mpi_int(), &counts, 1, snnkit_mpi_int(), snnkit_mpi_comm_world())
    var offsets = [Int32](repeating: 0, count: size)
    for k in 1..<size { offsets[k] = offsets[k - 1] + counts[k - 1] }
    var all = [UInt8](repeating: 0, count: Int(counts.reduce(0, +)))
    bytes.withUnsafeBytes { send in
      _ = MPI_Allgatherv(
        send.baseAddress, mine, snnkit_mpi_byte(), &all, counts, offsets, snnkit_mpi_byte(),
        snnkit_mpi_comm_world())
    }
    return (0..<size).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + counts[$0])]) }
  }

  /// Rank 0's bytes on every process (what the others pass is ignored).
  public func broadcast(_ bytes: [UInt8]) -> [UInt8] {
    guard size > 1 else { return bytes }
    var count = Int64(bytes.count)
    MPI_Bcast(&count, 1, snnkit_mpi_int64(), 0, snnkit_mpi_comm_world())
    var buffer = isRoot ? bytes : [UInt8](repeating: 0, count: Int(count))
    MPI_Bcast(&buffer, Int32(count), snnkit_mpi_byte(), 0, snnkit_mpi_comm_world())
    return buffer
  }

  /// Every process's value, in rank order, on every process (sent as JSON, which keeps doubles
  /// exactly).
  public func allGather<T: Codable>(_ value: T) throws -> [T] {
    guard size > 1 else { return [value] }
    let parts = allGather(Array(try JSONEncoder().encode(value)))
    return try parts.map { try JSONDecoder().decode(T.self, from: Data($0)) }
  }

  /// Ends every process of the job at once with `code`: what a process that failed does, so
  /// that the others never wait for it in a collective.
  public func abort(code: Int32) -> Never {
    if usesMPI { MPI_Abort(snnkit_mpi_comm_world(), code) }
    exit(code)
  }
}
