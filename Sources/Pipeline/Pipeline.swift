import Conversion
import Datasets
import Foundation
import Graph
import ModelIO
import Results
import Spiking
import Tensor

/// A trained network read from a Keras HDF5 or ONNX file (``ModelFile``), with the file's identity.
public struct TrainedModel: Sendable {
  public let graph: Graph
  public let path: String
  public let sha256: String

  /// Reads the model at `path`.
  /// - Throws: `ModelIOError` naming the file, the layer or the HDF5 path.
  public init(path: String) throws {
    graph = try ModelFile.read(path)
    sha256 = try SHA256.hex(ofFile: path)
    self.path = path
  }
}

/// A spiking network with where it came from: the file it was read from (or a note that it was
/// converted in memory) and the ANN it was converted from.
public struct SourcedNetwork: Sendable {
  public let network: SpikingNetwork
  public let location: String
  public let provenance: SNNFile.Provenance
  /// What tuning chose, when the network was converted here with a target number of time steps.
  public let tuning: Tuning.Outcome?
  /// Populations that are unlikely to approximate their op well, when the network was converted
  /// here with training images (``ConversionWarning/check(_:images:convergence:)`` on the calibration images).
  public let warnings: [ConversionWarning]
  /// Where the default conversion gave stalled populations a step per neuron (``ScheduleRepair``).
  public let scheduleRepair: ScheduleRepair?

  public init(
    network: SpikingNetwork, location: String, provenance: SNNFile.Provenance, tuning: Tuning.Outcome? = nil,
    warnings: [ConversionWarning] = [], scheduleRepair: ScheduleRepair? = nil
  ) {
    self.scheduleRepair = scheduleRepair
    self.network = network
    self.location = location
    self.provenance = provenance
    self.tuning = tuning
    self.warnings = warnings
  }

  /// Reads a `.snn.h5` file.
  /// - Throws: `ModelIOError` naming the file and what is wrong with it.
  public init(path: String) throws {
    let (network, provenance) = try SNNFile.read(path)
    self.init(network: network, location: path, provenance: provenance)
  }

  /// Converts `model` with `settings`, reading the training images of `calibrationData` that the
  /// normalization's calibration and the tuning need (``ConversionSettings/trainingImagesNeeded``).
  /// - Parameters:
  ///   - threads: worker threads for tuning's simulations (nil: every core).
  ///   - progress: tuning's (populations done, populations in all).
  /// - Throws: `DatasetError` when the images cannot be read; ``ConversionError``
  ///   for an op without a spiking neuron.
  ///   - preprocessing: applied to the calibration images, as to the images the network will see.
  ///   - offset: training images skipped before the calibration images.
  public init(
    converting model: TrainedModel, settings: ConversionSettings, calibrationData: DataSource,
    preprocessing: Preprocessing? = nil, offset: Int = 0, threads: Int? = nil,
    sharding: CalibrationSharding = .alone, tuningSharding: Sharding = .alone,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws {
    let needed = settings.trainingImagesNeeded
    let selection = DataSelection(
      source: calibrationData, split: .train, limit: needed, offset: offset, preprocessing: preprocessing)
    try self.init(
      converting: model, settings: settings, images: needed > 0 ? try selection.load().images : nil,
      threads: threads, sharding: sharding, tuningSharding: tuningSharding, progress: progress)
  }

  /// Converts `model` with `settings` on training `images` (see
  /// `SpikingNetwork.converting(_:settings:images:threads:sharding:tuningSharding:progress:)`).
  public init(
    converting model: TrainedModel, settings: ConversionSettings, images: Tensor<Float>?, threads: Int? = nil,
    sharding: CalibrationSharding = .alone, tuningSharding: Sharding = .alone,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws {
    var (network, tuning) = try SpikingNetwork.converting(
      model.graph, settings: settings, images: images, threads: threads, sharding: sharding,
      tuningSharding: tuningSharding, progress: progress)
    var warnings = [ConversionWarning]()
    var repair: ScheduleRepair?
    if let images {
      let calibration = images.rows(0..<min(settings.calibrationImages, images.shape[0]))
      var convergence = try Convergence.measure(network, images: calibration, threads: threads)
      if settings.repairsStalledPopulations, let measured = convergence,
        let repaired = try ScheduleRepair.repair(network, measured)
      {
        (network, repair) = (repaired.network, repaired.repair)
        convergence = try Convergence.measure(network, images: calibration, threads: threads)
      }
      warnings = try ConversionWarning.check(network, images: calibration, convergence: convergence)
    }
    self.init(
      network: network, location: "\(model.path) (converted in memory)",
      provenance: SNNFile.Provenance(
        sourceModel: model.path, sourceSHA256: model.sha256, toolkitVersion: ToolkitVersion.string),
      tuning: tuning, warnings: warnings, scheduleRepair: repair)
  }

  /// Writes the network as a `.snn.h5` file, atomically.
  public func write(to path: String) throws {
    try SNNFile.write(network, provenance: provenance, to: path)
  }

  /// Simulates the network on `data` and records the settings and what was measured.
  /// - Throws: `DatasetError` when a label names none of the network's outputs.
  /// - Parameters:
  ///   - limit: the `--limit` the images were selected with, recorded in the run's settings.
  ///   - progress: (images done, total images, steps done in the current batch).
  public func simulate(
    on data: LabeledImages, limit: Int?, settings: SimulationSettings,
    progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> RunRecord {
    try simulate(on: data, limit: limit, settings: settings, keepReadout: false, progress: progress).record
  }

  /// ``simulate(on:limit:settings:progress:)`` that also returns, when `keepReadout`, each
  /// image's readout at the largest T (`[images, classes]`; ``SimulationResult/readout``).
  public func simulate(
    on data: LabeledImages, limit: Int?, settings: SimulationSettings, keepReadout: Bool,
    sharding: Sharding = .alone, progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> (record: RunRecord, readout: Tensor<Float>?) {
    try data.check(fits: network.graph)
    let started = Date()
    let result = try Simulator.run(
      network, images: data.images, labels: data.labels, settings: settings, keepReadout: keepReadout,
      sharding: sharding, progress: progress)
    let seconds = Date().timeIntervalSince(started)
    let readout = result.readout.map { values in
      let width = network.graph.node(network.readout)!.shape.reduce(1, *)
      return Tensor(shape: [values.count / max(width, 1), width], scalars: values)
    }
    return (try record(result, settings: settings, data: data, limit: limit, seconds: seconds), readout)
  }

  private func record(
    _ result: SimulationResult, settings: SimulationSettings, data: LabeledImages, limit: Int?,
    seconds: Double
  ) throws -> RunRecord {
    var recorded = RunRecord.Settings(
      network: network, networkPath: location, sourceModel: provenance.sourceModel,
      sourceSha256: provenance.sourceSHA256, simulation: settings, data: data.name, limit: limit)
    recorded.offset = data.offset > 0 ? data.offset : nil
    recorded.preprocessing = data.preprocessing
    return RunRecord(settings: recorded, result: result, seconds: seconds)
  }
}
