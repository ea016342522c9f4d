import ArgumentParser
import Conversion
import Spiking

extension Dynamics: ExpressibleByArgument {}
extension Granularity: ExpressibleByArgument {}
extension ResetMode: ExpressibleByArgument {}

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
    case inverse, geometric, constant, adaptive

    /// The schedule of this family with `eta0` and `gamma` where it reads them.
    public func schedule(
      eta0: Double = StepSchedule.defaultEta0, gamma: Double = StepSchedule.defaultGamma
    ) -> StepSchedule {
      switch self {
      case .inverse: .inverse
      case .geometric: .geometric(eta0: eta0, gamma: gamma)
      case .constant: .constant(eta: eta0)
      case .adaptive: .adaptive(eta0: eta0, gamma: gamma)
      }
    }
  }

  @Option(
    help:
      "Step schedule (default: inverse for subgradient, geometric for signgd; --eta0 or --gamma alone choose geometric; adaptive: signgd neurons whose step shrinks by --gamma only when their spike changes)."
  )
  public var schedule: ScheduleName?
  @Option(help: "First step size η₀ in (0, 1] (geometric, constant, adaptive; default 0.15).") public
    var eta0: Double?
  @Option(help: "Decay γ per step in (0, 1] (geometric; adaptive: per change of spike; default 0.95).") public
    var gamma: Double?
  @Option(help: "Share one normalization scale per layer, per channel or per neuron.")
  public var granularity: Granularity = .channel
  @Option(help: ArgumentHelp("Training images used to calibrate the normalization.", valueName: "N"))
  public var calibration = 1000
  @Flag(
    help: "Keep max pooling, LayerNorm and inner softmax as fused populations instead of decomposing them.")
  public var fuse = false
  @Option(
    help: ArgumentHelp(
      "Training images tuning simulates per candidate; whole networks are judged on the first 4N (with --target-timesteps; default \(ConversionSettings.defaultTuningImages)).",
      valueName: "N"))
  public var tuningImages: Int?
  @Option(
    help:
      "How membrane neurons (--dynamics if) reset when they fire: subtract the threshold, or to zero (default subtract)."
  )
  public var reset: ResetMode?
  @Option(
    help: ArgumentHelp(
      "Membrane time constant τ ≥ 1 of leaky membrane neurons (--dynamics if): each step keeps 1 − 1/τ of the potential (default: no leak).",
      valueName: "τ"))
  public var leak: Double?
  @Option(
    help: ArgumentHelp(
      "Where membrane neurons (--dynamics if) start, as a fraction of the threshold in [0, 1] (default 0).",
      valueName: "F"))
  public var initialMembrane: Double?

  public init() {}

  public func validate() throws {
    try ToolLimits.check(calibration, "--calibration", in: 1...ToolLimits.images)
    if let eta0 { try ToolLimits.check(eta0, "--eta0", in: ToolLimits.stepSize, openBelow: true) }
    if let gamma { try ToolLimits.check(gamma, "--gamma", in: ToolLimits.stepSize, openBelow: true) }
    // Never silently ignored: a step-size flag the chosen schedule does not read is an error.
    if schedule == .inverse && (eta0 != nil || gamma != nil) {
      throw ValidationError("--eta0 and --gamma do not apply to --schedule inverse (η_t = 1/(t+1))")
    }
    if schedule == .constant && gamma != nil {
      throw ValidationError("--gamma does not apply to --schedule constant (η_t = --eta0)")
    }
  }

  /// Throws unless the membrane options are in range and given only when some conversion uses
  /// membrane neurons, and the step-size options only when some does not (membrane neurons
  /// have no step schedule).
  public func validateMembrane(dynamics: [Dynamics]) throws {
    if let leak { try ToolLimits.check(leak, "--leak", in: ToolLimits.leak) }
    if let initialMembrane {
      try ToolLimits.check(initialMembrane, "--initial-membrane", in: ToolLimits.initialMembrane)
    }
    if !dynamics.contains(where: { $0.model.hasMembrane })
      && (reset != nil || leak != nil || initialMembrane != nil)
    {
      throw ValidationError(
        "--reset, --leak and --initial-membrane apply only to --dynamics if (membrane neurons)")
    }
    if dynamics.allSatisfy({ $0.model.defaultSchedule == nil })
      && (schedule != nil || eta0 != nil || gamma != nil)
    {
      throw ValidationError(
        "--schedule, --eta0 and --gamma do not apply to --dynamics if: membrane neurons integrate their input current"
      )
    }
  }

  /// Throws unless `--tuning-images` is in range and given only when the command tunes.
  public func validateTuning(tuned: Bool) throws {
    guard let tuningImages else { return }
    guard tuned else { throw ValidationError("--tuning-images applies only with --target-timesteps") }
    try ToolLimits.check(tuningImages, "--tuning-images", in: 1...ToolLimits.images)
  }

  /// The chosen schedule; nil means each dynamics' default. `--eta0` or `--gamma` without
  /// `--schedule` choose the geometric schedule.
  public var stepSchedule: StepSchedule? {
    let eta0 = self.eta0 ?? StepSchedule.defaultEta0
    let gamma = self.gamma ?? StepSchedule.defaultGamma
    guard let schedule else {
      return self.eta0 == nil && self.gamma == nil ? nil : .geometric(eta0: eta0, gamma: gamma)
    }
    return schedule.schedule(eta0: eta0, gamma: gamma)
  }

  /// The conversion settings these options give with `dynamics` and `normalization`.
  public func settings(dynamics: Dynamics, normalization: Normalization) -> ConversionSettings {
    ConversionSettings(
      dynamics: dynamics, schedule: dynamics.model.defaultSchedule == nil ? nil : stepSchedule,
      normalization: normalization, granularity: granularity, calibrationImages: calibration, fuse: fuse,
      tuningImages: tuningImages ?? ConversionSettings.defaultTuningImages, reset: reset ?? .subtract,
      leak: leak, initialMembrane: initialMembrane ?? 0)
  }
}
