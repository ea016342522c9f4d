import Conversion
import Datasets
import Results
import Spiking

/// The ablation of Oh & Lee (ICML 2024): one model converted with every combination of
/// dynamics and normalization — each as converted and, optionally, tuned for given numbers of
/// time steps — each simulated on the same images: what `snnsim compare` runs.
public struct Ablation: Sendable {
  /// One conversion of the ablation.
  public struct Combination: Sendable {
    /// `<dynamics>-<normalization>[-t<T>][-<option>-<value>…]`, e.g. `signgd-max`,
    /// `signgd-max-t8` or `if-max-reset-zero`: the run's file name.
    public let name: String
    public let settings: ConversionSettings
    public let simulation: SimulationSettings
  }

  /// One more option to compare the values of: every combination is made with each value.
  public struct Sweep: Sendable {
    /// The option's name, as it appears in run names (`fuse`, `granularity`, `reset` …).
    public let option: String
    /// Each value's name and what it changes.
    public let values:
      [(name: String, apply: @Sendable (inout ConversionSettings, inout SimulationSettings) -> Void)]
    /// Whether the option means anything for a conversion (membrane options only for membrane
    /// neurons, say); a combination it does not apply to is made once, without it.
    public let applies: @Sendable (ConversionSettings) -> Bool

    public init(
      option: String,
      values: [(name: String, apply: @Sendable (inout ConversionSettings, inout SimulationSettings) -> Void)],
      applies: @escaping @Sendable (ConversionSettings) -> Bool = { _ in true }
    ) {
      self.option = option
      self.values = values
      self.applies = applies
    }
  }

  public let model: TrainedModel
  public let combinations: [Combination]
  public let simulation: SimulationSettings
  /// Where calibration images come from (their training split).
  public let calibrationData: DataSource
  /// Applied to the calibration images (the same as to the images simulated).
  public var preprocessing: Preprocessing?

  /// - Parameters:
  ///   - targetTimesteps: besides the conversion as is, one tuned for each of these T.
  ///   - sweeps: further options, each combination made with every value of each (all pairings).
  ///   - base: the conversion settings every combination shares; its dynamics, normalization and
  ///     target are replaced by each combination's.
  public init(
    model: TrainedModel, dynamics: [Dynamics], normalizations: [Normalization], targetTimesteps: [Int] = [],
    sweeps: [Sweep] = [], base: ConversionSettings, simulation: SimulationSettings,
    calibrationData: DataSource
  ) {
    self.model = model
    var combinations = dynamics.flatMap { dynamics in
      normalizations.flatMap { normalization in
        ([nil] + targetTimesteps.map(Optional.some)).map { target in
          var settings = base
          settings.dynamics = dynamics
          // Membrane neurons have no step schedule.
          if dynamics.model.defaultSchedule == nil { settings.schedule = nil }
          settings.normalization = normalization
          settings.targetTimesteps = target
          let name = "\(dynamics.rawValue)-\(normalization)" + (target.map { "-t\($0)" } ?? "")
          return Combination(name: name, settings: settings, simulation: simulation)
        }
      }
    }
    for sweep in sweeps {
      combinations = combinations.flatMap { combination -> [Combination] in
        guard sweep.applies(combination.settings) else { return [combination] }
        return sweep.values.map { value in
          var settings = combination.settings
          var simulated = combination.simulation
          value.apply(&settings, &simulated)
          return Combination(
            name: "\(combination.name)-\(sweep.option)-\(value.name)", settings: settings,
            simulation: simulated)
        }
      }
    }
    self.combinations = combinations
    self.simulation = simulation
    self.calibrationData = calibrationData
  }

  /// Converts and simulates every combination in turn on `data`.
  /// - Parameters:
  ///   - limit: the `--limit` the images were selected with, recorded in each run.
  ///   - progress: (combination index, images done, total images, step in the current batch).
  ///   - warned: called with each combination's index and its conversion's warnings, when there
  ///     are any, before it is simulated.
  ///   - converted: called with each combination's index and network before it is simulated.
  ///   - finished: called with each combination's index and record as soon as it is done.
  ///   - sharding, calibrationSharding: how each combination's simulation and calibration are
  ///     spread over the processes of a job (every process ends with every network and record).
  /// - Returns: one record per combination, in order.
  public func run(
    on data: LabeledImages, limit: Int?, sharding: Sharding = .alone,
    calibrationSharding: CalibrationSharding = .alone,
    progress: (Int, Int, Int, Int) -> Void = { _, _, _, _ in },
    warned: (Int, [ConversionWarning]) -> Void = { _, _ in },
    converted: (Int, SourcedNetwork) throws -> Void = { _, _ in },
    finished: (Int, RunRecord) throws -> Void = { _, _ in }
  ) throws -> [RunRecord] {
    try data.check(fits: model.graph)
    // Every combination calibrates on the same first images: read them once, as many as the
    // largest request.
    let needed = combinations.map(\.settings.trainingImagesNeeded).max() ?? 0
    let selection = DataSelection(
      source: calibrationData, split: .train, limit: needed, preprocessing: preprocessing)
    let images = needed > 0 ? try selection.load().images : nil
    var records = [RunRecord]()
    for (index, combination) in combinations.enumerated() {
      let network = try SourcedNetwork(
        converting: model, settings: combination.settings, images: images, threads: simulation.threads,
        sharding: calibrationSharding, tuningSharding: sharding)
      if !network.warnings.isEmpty { warned(index, network.warnings) }
      try converted(index, network)
      let record = try network.simulate(
        on: data, limit: limit, settings: combination.simulation, keepReadout: false, sharding: sharding,
        progress: { progress(index, $0, $1, $2) }
      ).record
      try finished(index, record)
      records.append(record)
    }
    return records
  }
}
