import AtomicFile
import Foundation
import Spiking

/// A simulation of a NIR graph as `snnsim run X.nir --results` writes it: no ANN and no
/// conversion stand behind such a graph, so it records accuracy and spikes, not approximation
/// errors (docs/nir.md, "Running NIR graphs"). JSON keys are snake_case, as in every file the
/// tools write.
public struct NIRRunRecord: Codable, Sendable {
  public struct Settings: Codable, Sendable, Equatable {
    /// The NIR file simulated, and the NIR version it states.
    public let network: String
    public let nirVersion: String
    /// The data set and split, e.g. `fashion-mnist/test`.
    public let data: String
    public let limit: Int?
    public let batchSize: Int
    /// The step the graph ran with, in its time unit (absent from records written before the
    /// step could be chosen, which ran with 1).
    public let dt: Double?

    public init(network: String, nirVersion: String, data: String, limit: Int?, batchSize: Int, dt: Double) {
      self.network = network
      self.nirVersion = nirVersion
      self.data = data
      self.limit = limit
      self.batchSize = batchSize
      self.dt = dt
    }
  }

  public let settings: Settings
  public let images: Int
  public let timesteps: [Int]
  public let accuracy: [Double]
  public let populations: [NIRSimulationResult.Population]
  /// Wall-clock seconds the simulation took.
  public let seconds: Double

  public init(settings: Settings, result: NIRSimulationResult, seconds: Double) {
    self.settings = settings
    images = result.images
    timesteps = result.timesteps
    accuracy = result.accuracy
    populations = result.populations
    self.seconds = seconds
  }

  /// The record as JSON: snake_case keys, sorted, indented.
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return try encoder.encode(self)
  }

  /// The record as CSV: one row per T with the accuracy and each spiking node's spikes per
  /// neuron per step.
  public func csv() -> String {
    var text =
      (["timesteps", "accuracy"] + populations.map { "\($0.name)_spikes_per_neuron_per_step" })
      .joined(separator: ",") + "\n"
    for (row, t) in timesteps.enumerated() {
      text +=
        ([String(t), accuracy[row].description]
        + populations.map { $0.spikesPerNeuronPerStep[row].description })
        .joined(separator: ",") + "\n"
    }
    return text
  }

  /// Writes the record as JSON and CSV where ``RunRecord/paths(forResults:)`` says, atomically.
  public func write(json path: String) throws {
    let paths = RunRecord.paths(forResults: path)
    try AtomicFile.write([(paths.json, try encoded()), (paths.csv, Data(csv().utf8))])
  }
}
