import ArgumentParser
import Spiking

extension AffineUpdate: ExpressibleByArgument {}
extension InputEncoding: ExpressibleByArgument {}

/// The options every simulating command shares.
public struct SimulationOptions: ParsableArguments, Sendable {
  @Option(
    help: ArgumentHelp("Time steps at which to measure, strictly increasing.", valueName: "1,2,4,…"),
    transform: parseTimesteps)
  public var timesteps: [Int] = SimulationSettings().timesteps

  @Option(help: "Images simulated together.") public var batchSize = SimulationSettings().batchSize

  @Option(
    help:
      "dense: recompute each affine map every step; event: add the weights of each step's spikes (or changes)."
  )
  public var engine: AffineUpdate = .dense

  @Option(
    help:
      "analog: the image at every step; rate: integrate-and-fire neurons encode each pixel; signgd: signGD neurons do."
  )
  public var input: InputEncoding = .analog

  @Option(
    help: ArgumentHelp(
      "Worker threads, each simulating a shard of every batch (default: one per core). Results do not depend on it.",
      valueName: "N"))
  public var threads: Int?

  public init() {}

  public func validate() throws {
    try ToolLimits.check(batchSize, "--batch-size", in: 1...ToolLimits.images)
    if let threads { try ToolLimits.check(threads, "--threads", in: 1...ToolLimits.threads) }
  }

  /// The simulation settings these options give.
  public var settings: SimulationSettings {
    SimulationSettings(
      timesteps: timesteps, batchSize: batchSize, update: engine, input: input, threads: threads)
  }
}
