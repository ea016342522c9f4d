import ArgumentParser
import Distributed
import Spiking

extension AffineUpdate: ExpressibleByArgument {}
extension InputEncoding: ExpressibleByArgument {}

/// The options every simulating command shares.
public struct SimulationOptions: ParsableArguments, Sendable {
  @Option(
    help: ArgumentHelp(
      "Time steps at which to measure, strictly increasing (default: \(SimulationSettings().timesteps.map(String.init).joined(separator: ","))).",
      valueName: "1,2,4,…"),
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
      "Worker threads, each simulating a shard of every batch (default: one per core; in a job, the cores shared among the machine's ranks). Results do not depend on it.",
      valueName: "N"))
  public var threads: Int?

  @Option(
    help: ArgumentHelp(
      "Record the spikes of this image (its position among the simulated images, 0 the first) for the report's spike raster.",
      valueName: "N"))
  public var rasterImage = 0

  @Flag(help: "Record no spike raster.") public var noRaster = false

  public init() {}

  /// Checks that the raster's image is among the `images` simulated.
  public func checkRaster(images: Int) throws {
    guard noRaster || rasterImage < images else {
      throw ValidationError(
        "--raster-image \(rasterImage) is not among the \(images) images simulated (0…\(images - 1))")
    }
  }

  public func validate() throws {
    try ToolLimits.check(batchSize, "--batch-size", in: 1...ToolLimits.images)
    if let threads { try ToolLimits.check(threads, "--threads", in: 1...ToolLimits.threads) }
    try ToolLimits.check(rasterImage, "--raster-image", in: 0...ToolLimits.images)
  }

  /// The simulation settings these options give.
  public var settings: SimulationSettings {
    SimulationSettings(
      timesteps: timesteps, batchSize: batchSize, update: engine, input: input,
      threads: threads ?? Communicator.world.defaultThreads,
      rasterImage: noRaster ? nil : rasterImage)
  }
}
