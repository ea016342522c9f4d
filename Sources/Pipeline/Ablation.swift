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
    /// `<dynamics>-<normalization>[-t<T>]`, e.g. `signgd-max` or `signgd-max-t8`: the run's file
    /// name.
    public let name: String
    public let settings: ConversionSettings
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
  ///   - base: the conversion settings every combination shares; its dynamics, normalization and
  ///     target are replaced by each combination's.
  public init(
    model: TrainedModel, dynamics: [Dynamics], normalizations: [Normalization], targetTimesteps: [Int] = [],
    base: ConversionSettings, simulation: SimulationSettings, calibrationData: DataSource
  ) {
    self.model = model
    combinations = dynamics.flatMap { dynamics in
      normalizations.flatMap { normalization in
        ([nil] + targetTimesteps.map(Optional.some)).map { target in
          var settings = base
          settings.dynamics = dynamics
          // Membrane neurons have no step schedule.
          if dynamics == .integrateAndFire { settings.schedule = nil }
          settings.normalization = normalization
          settings.targetTimesteps = target
          let name = "\(dynamics.rawValue)-\(normalization)" + (target.map { "-t\($0)" } ?? "")
          return Combination(name: name, settings: settings)
        }
      }
    }
    self.simulation = simulation
    self.calibrationData = calibrationData
  }

  /// Converts and simulates every combination in turn on `data`.
  /// - Parameters:
  ///   - limit: the `--limit` the images were selected with, recorded in each run.
  ///   - progress: (combination index, images done, total images, step in the current batch).
  ///   - warned: called with each combination's index and its conversion's warnings, when there
  ///     are any, before it is simulated.
  ///   - finished: called with each combination's index and record as soon as it is done.
  /// - Returns: one record per combination, in order.
  public func run(
    on data: LabeledImages, limit: Int?, progress: (Int, Int, Int, Int) -> Void = { _, _, _, _ in },
    warned: (Int, [ConversionWarning]) -> Void = { _, _ in },
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
        converting: model, settings: combination.settings, images: images, threads: simulation.threads)
      if !network.warnings.isEmpty { warned(index, network.warnings) }
      let record = try network.simulate(
        on: data, limit: limit, settings: simulation, progress: { progress(index, $0, $1, $2) })
      try finished(index, record)
      records.append(record)
    }
    return records
  }
}
