import Conversion
import Datasets
import Results
import Spiking

/// The ablation of Oh & Lee (ICML 2024): one model converted with every combination of
/// dynamics and normalization, each simulated on the same images — what `snnsim compare` runs.
public struct Ablation: Sendable {
  /// One conversion of the ablation.
  public struct Combination: Sendable {
    /// `<dynamics>-<normalization>`, e.g. `signgd-max`: the run's file name.
    public let name: String
    public let settings: ConversionSettings
  }

  public let model: TrainedModel
  public let combinations: [Combination]
  public let simulation: SimulationSettings
  /// Where calibration images come from (their training split).
  public let calibrationData: DataSource

  /// - Parameter base: the conversion settings every combination shares; its dynamics and
  ///   normalization are replaced by each combination's.
  public init(
    model: TrainedModel, dynamics: [Dynamics], normalizations: [Normalization], base: ConversionSettings,
    simulation: SimulationSettings, calibrationData: DataSource
  ) {
    self.model = model
    combinations = dynamics.flatMap { dynamics in
      normalizations.map { normalization in
        var settings = base
        settings.dynamics = dynamics
        settings.normalization = normalization
        return Combination(name: "\(dynamics.rawValue)-\(normalization)", settings: settings)
      }
    }
    self.simulation = simulation
    self.calibrationData = calibrationData
  }

  /// Converts and simulates every combination in turn on `data`.
  /// - Parameters:
  ///   - limit: the `--limit` the images were selected with, recorded in each run.
  ///   - progress: (combination index, images done, total images, step in the current batch).
  ///   - finished: called with each combination's index and record as soon as it is done.
  /// - Returns: one record per combination, in order.
  public func run(
    on data: LabeledImages, limit: Int?, progress: (Int, Int, Int, Int) -> Void = { _, _, _, _ in },
    finished: (Int, RunRecord) throws -> Void = { _, _ in }
  ) throws -> [RunRecord] {
    try data.check(fits: model.graph)
    // Every combination calibrates on the same first images: read them once, as many as the
    // largest request.
    let needed = combinations.filter(\.settings.needsCalibration).map(\.settings.calibrationImages).max()
    let calibration = try needed.map { try calibrationData.load(.train, limit: $0).images }
    var records = [RunRecord]()
    for (index, combination) in combinations.enumerated() {
      let images = combination.settings.needsCalibration ? calibration : nil
      let network = try SourcedNetwork(
        converting: model, settings: combination.settings,
        calibration: images.map { $0.rows(0..<min(combination.settings.calibrationImages, $0.shape[0])) })
      let record = try network.simulate(
        on: data, limit: limit, settings: simulation, progress: { progress(index, $0, $1, $2) })
      try finished(index, record)
      records.append(record)
    }
    return records
  }
}
