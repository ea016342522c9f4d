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
  @Flag(
    inversion: .prefixedNo,
    help:
      "Let tuning correct each population's mean error by shifting its input (with --target-timesteps; off for a network to export to NIR where no Dense or Conv2D alone feeds a population)."
  )
  public var inputCorrection = true
  @Option(
    help: ArgumentHelp(
      "A setting of the neuron model, repeatable: \(NeuronParameters.all.map { "\($0.name) (\($0.summary); \($0.expected); default \($0.defaultValue.map { "\($0)" } ?? "none"); \(ConversionOptions.readers(of: $0.name)))" }.joined(separator: "; ")).",
      valueName: "name=value"))
  public var neuron: [String] = []
  @Option(
    help: "Shorthand for --neuron reset=VALUE (\(ConversionOptions.readers(of: "reset")); default subtract).")
  public var reset: ResetMode?
  @Option(
    help: ArgumentHelp(
      "Shorthand for --neuron leak=τ (\(ConversionOptions.readers(of: "leak")); default: no leak).",
      valueName: "τ"))
  public var leak: Double?
  @Option(
    help: ArgumentHelp(
      "Where membrane neurons (\(ConversionOptions.membraneModels)) start, as a fraction of the threshold in [0, 1] (default \(ConversionSettings.defaultInitialMembrane): half-way, so that a rate rounds its input instead of truncating it; 0 starts them at rest, as NIR does).",
      valueName: "F"))
  public var initialMembrane: Double?

  /// `--dynamics a, b` for the models that declare the setting `name`.
  static func readers(of name: String) -> String {
    "--dynamics " + NeuronParameters.readers(of: name).map(\.rawValue).joined(separator: ", ")
  }

  /// `--dynamics a, b` for the models with a membrane.
  static var membraneModels: String {
    "--dynamics " + Dynamics.allCases.filter { $0.model.hasMembrane }.map(\.rawValue).joined(separator: ", ")
  }

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

  /// Throws unless the neuron settings are in range and each read by one of `dynamics`, the
  /// initial membrane given only when some conversion uses membrane neurons, and the step-size
  /// options only when some does not (membrane neurons have no step schedule).
  public func validateMembrane(dynamics: [Dynamics]) throws {
    for (flag, name, _) in try neuronSettings()
    where !dynamics.contains(where: { $0.model.parameters.contains { $0.name == name } }) {
      throw ValidationError("\(flag) applies only to \(Self.readers(of: name))")
    }
    if let initialMembrane {
      try ToolLimits.check(initialMembrane, "--initial-membrane", in: ToolLimits.initialMembrane)
      if !dynamics.contains(where: { $0.model.hasMembrane }) {
        throw ValidationError("--initial-membrane applies only to \(Self.membraneModels) (membrane neurons)")
      }
    }
    let unscheduled = dynamics.filter { $0.model.defaultSchedule == nil }
    if unscheduled.count == dynamics.count && (schedule != nil || eta0 != nil || gamma != nil) {
      throw ValidationError(
        "--schedule, --eta0 and --gamma do not apply to --dynamics \(unscheduled.map(\.rawValue).joined(separator: ", ")): membrane neurons integrate their input current"
      )
    }
  }

  /// The settings of `--neuron`, `--reset` and `--leak` by name.
  /// - Throws: `ValidationError` for a setting no model declares, a value it does not accept, or
  ///   a setting given twice.
  public func neuronParameters() throws -> NeuronParameters {
    var parameters = NeuronParameters()
    for (_, name, value) in try neuronSettings() { parameters[name] = value }
    return parameters
  }

  /// Each setting given: the flag that gave it (`--neuron bits`, `--reset`), its name and its
  /// value (nil for `none`).
  func neuronSettings() throws -> [(flag: String, name: String, value: NeuronParameters.Value?)] {
    var pairs = neuron.map { ("--neuron", $0) }
    if let reset { pairs.append(("--reset", "reset=\(reset.rawValue)")) }
    if let leak { pairs.append(("--leak", "leak=\(leak)")) }
    var settings = [(flag: String, name: String, value: NeuronParameters.Value?)]()
    for (option, pair) in pairs {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      let known = NeuronParameters.all
      guard parts.count == 2, let parameter = known.first(where: { $0.name == parts[0] }) else {
        throw ValidationError(
          "--neuron takes NAME=VALUE with NAME one of \(known.map(\.name).joined(separator: ", ")); got '\(pair)'"
        )
      }
      let flag = option == "--neuron" ? "--neuron \(parameter.name)" : option
      guard let value = parameter.parse(parts[1]) else {
        throw ValidationError("\(flag) must be \(parameter.expected), got '\(parts[1])'")
      }
      guard !settings.contains(where: { $0.name == parameter.name }) else {
        throw ValidationError("\(parameter.name) is given twice (\(flag))")
      }
      settings.append((flag, parameter.name, value))
    }
    return settings
  }

  /// Throws unless `--tuning-images` is in range and given only when the command tunes.
  public func validateTuning(tuned: Bool) throws {
    if !inputCorrection && !tuned {
      throw ValidationError("--no-input-correction applies only with --target-timesteps")
    }
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

  /// The conversion settings these options give with `dynamics` and `normalization`. The
  /// neuron settings are kept whole: each conversion takes those its model reads (a
  /// comparison's base settings serve every dynamics it crosses).
  /// - Throws: `ValidationError` for a neuron setting no model declares or a value out of range.
  public func settings(dynamics: Dynamics, normalization: Normalization) throws -> ConversionSettings {
    ConversionSettings(
      dynamics: dynamics, schedule: dynamics.model.defaultSchedule == nil ? nil : stepSchedule,
      normalization: normalization, granularity: granularity, calibrationImages: calibration, fuse: fuse,
      tuningImages: tuningImages ?? ConversionSettings.defaultTuningImages,
      neuron: try neuronParameters(),
      initialMembrane: initialMembrane ?? ConversionSettings.defaultInitialMembrane,
      correctsInputs: inputCorrection)
  }
}
