import ArgumentParser
import Conversion
import Distributed
import Foundation
import Spiking

/// Standard error as the process started with it: a rank other than 0 sends its own output to
/// /dev/null (``startTool()``), but its error message must still reach the user.
nonisolated(unsafe) private var reportingStandardError: Int32 = 2

/// Joins the job when a launcher started the process (``Communicator``), and on every rank but
/// 0 sends standard output and standard error to /dev/null: progress and messages come from
/// rank 0 only.
func joinJob() {
  let world = Communicator.world
  guard !world.isRoot else { return }
  reportingStandardError = dup(2)
  let null = open("/dev/null", O_WRONLY)
  if null >= 0 {
    dup2(null, 1)
    dup2(null, 2)
    close(null)
  }
}

/// A command that spreads its work over the ranks of a job (docs/scaling.md). Any other command
/// run in a job of several processes runs on rank 0 alone; the other ranks end at once, so that
/// nothing is printed or written twice.
public protocol WorkSharing {}

extension ParsableCommand {
  /// Parses the arguments and runs the command, as `main()` does, except that in a job of
  /// several processes a failure on any rank is reported with that rank's number and ends every
  /// process at once (MPI_Abort) with the failure's exit code: no rank waits for it forever.
  public static func runInJob() {
    let world = Communicator.world
    let parsed: ParsableCommand
    do { parsed = try parseAsRoot(nil) } catch {
      // Every rank read the same arguments: rank 0 reports (help, version or the mistake).
      if !world.isRoot { Foundation.exit(exitCode(for: error).rawValue) }
      exit(withError: error)
    }
    do {
      var command = parsed
      if world.size > 1 && !world.isRoot && !(command is WorkSharing) { return }
      try injectedFailure()
      try command.run()
    } catch {
      let code = exitCode(for: error)
      if world.size > 1 && code != .success {
        var text = fullMessage(for: error)
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        let message = "Error on rank \(world.rank) of \(world.size): \(text)\n"
        _ = message.withCString { write(reportingStandardError, $0, strlen($0)) }
        world.abort(code: code.rawValue)
      }
      exit(withError: error)
    }
  }
}

/// A failure a test asks for: `SNNKIT_FAIL_ON_RANK=N` makes rank N of a job of several
/// processes fail as it starts its work, while the others go on into their first collective —
/// how the tests show that a failing rank ends the job instead of leaving it waiting.
struct InjectedFailure: Error, CustomStringConvertible {
  let rank: Int
  var description: String { "failure injected on rank \(rank) (SNNKIT_FAIL_ON_RANK)" }
}

func injectedFailure() throws {
  let world = Communicator.world
  guard world.size > 1, let wanted = ProcessInfo.processInfo.environment["SNNKIT_FAIL_ON_RANK"],
    Int(wanted) == world.rank
  else { return }
  throw InjectedFailure(rank: world.rank)
}

extension Communicator {
  /// Simulation batches dealt round-robin over the ranks (batch k to rank k mod size), their
  /// measures gathered on every rank (``Sharding``); one process simulates every batch.
  public var sharding: Sharding {
    guard size > 1 else { return .alone }
    let (rank, size) = (self.rank, self.size)
    return Sharding(
      owns: { index, _ in index % size == rank },
      exchange: { [self] local in
        try allGather(local).reduce(into: [Int: BatchMeasures]()) { all, part in
          all.merge(part) { first, _ in first }
        }
      },
      reports: isRoot, processes: size)
  }
}

extension Communicator {
  /// Calibration chunks dealt round-robin over the ranks, maxima merged by MPI_MAX and
  /// percentile samples gathered whole on every rank (``CalibrationSharding``).
  public var calibrationSharding: CalibrationSharding {
    guard size > 1 else { return .alone }
    return CalibrationSharding(
      rank: rank, size: size,
      maximum: { [self] values in
        var merged = values
        maximum(&merged)
        return merged
      },
      concatenate: { [self] values in
        let bytes = values.withUnsafeBytes { Array($0) }
        return allGather(bytes).flatMap { part in
          // Copied, not rebound: a byte array's storage need not be aligned for floats.
          var floats = [Float](repeating: 0, count: part.count / MemoryLayout<Float>.stride)
          floats.withUnsafeMutableBytes { $0.copyBytes(from: part) }
          return floats
        }
      })
  }
}
