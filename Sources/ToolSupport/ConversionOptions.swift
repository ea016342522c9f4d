import ArgumentParser
import Conversion
import Spiking

extension Dynamics: ExpressibleByArgument {}
extension Granularity: ExpressibleByArgument {}

/// Parses `none`, `max` or `pNN.N` for ArgumentParser.
public func parseNormalization(_ text: String) throws -> Normalization {
  guard let value = Normalization(text) else {
    throw ValidationError("--normalize must be none, max or pNN.N (e.g. p99.9), got '\(text)'")
  }
  return value
}

/// How a network is converted, apart from its dynamics and normalization: shared by
/// `snnconv convert` and `snnsim compare`.
public struct ConversionOptions: ParsableArguments, Sendable {
  public enum ScheduleName: String, ExpressibleByArgument, CaseIterable, Sendable {
    case inverse, geometric, constant
  }

  @Option(help: "Step schedule (default: inverse for subgradient, geometric for signgd).")
  public var schedule: ScheduleName?
  @Option(help: "First step size η₀ (geometric, constant).") public var eta0 = 0.15
  @Option(help: "Decay γ per step (geometric).") public var gamma = 0.95
  @Option(help: "Share one normalization scale per layer, per channel or per neuron.")
  public var granularity: Granularity = .channel
  @Option(help: ArgumentHelp("Training images used to calibrate the normalization.", valueName: "N"))
  public var calibration = 1000
  @Flag(
    help: "Keep max pooling, LayerNorm and inner softmax as fused populations instead of decomposing them.")
  public var fuse = false

  public init() {}

  public func validate() throws {
    guard calibration > 0 else { throw ValidationError("--calibration must be positive, got \(calibration)") }
    guard eta0 > 0, eta0.isFinite else { throw ValidationError("--eta0 must be positive, got \(eta0)") }
    guard gamma > 0, gamma <= 1 else { throw ValidationError("--gamma must be in (0, 1], got \(gamma)") }
  }

  /// The chosen schedule; nil means each dynamics' default.
  public var stepSchedule: StepSchedule? {
    switch schedule {
    case nil: nil
    case .inverse: .inverse
    case .geometric: .geometric(eta0: eta0, gamma: gamma)
    case .constant: .constant(eta: eta0)
    }
  }

  /// The conversion settings these options give with `dynamics` and `normalization`.
  public func settings(dynamics: Dynamics, normalization: Normalization) -> ConversionSettings {
    ConversionSettings(
      dynamics: dynamics, schedule: stepSchedule, normalization: normalization, granularity: granularity,
      calibrationImages: calibration, fuse: fuse)
  }
}
