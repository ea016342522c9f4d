import Foundation
import Spiking

/// A simulation run as written by `snnsim run`: its settings and what it measured. Encoded as
/// JSON with snake_case keys (docs/snn-format.md gives the schema).
public struct RunRecord: Codable, Sendable {
  public struct Settings: Codable, Sendable {
    public let network: String
    public let name: String
    public let sourceModel: String
    public let sourceSha256: String
    public let dynamics: [String]
    public let schedules: [String]
    public let normalization: String
    /// `layer`, `channel` or `neuron`: over which neurons a scale is shared.
    public let granularity: String
    /// Whether max pooling, LayerNorm and inner softmax ran as fused populations.
    public let fused: Bool
    public let calibrationImages: Int
    public let engine: String
    public let input: String
    public let data: String
    public let limit: Int?
    public let batchSize: Int

    public init(
      network: String, name: String, sourceModel: String, sourceSha256: String, dynamics: [String],
      schedules: [String],
      normalization: String, granularity: String, fused: Bool, calibrationImages: Int, engine: String,
      input: String, data: String, limit: Int?, batchSize: Int
    ) {
      self.granularity = granularity
      self.fused = fused
      self.network = network
      self.name = name
      self.sourceModel = sourceModel
      self.sourceSha256 = sourceSha256
      self.dynamics = dynamics
      self.schedules = schedules
      self.normalization = normalization
      self.calibrationImages = calibrationImages
      self.engine = engine
      self.input = input
      self.data = data
      self.limit = limit
      self.batchSize = batchSize
    }
  }

  public let settings: Settings
  public let images: Int
  public let annAccuracy: Double
  public let timesteps: [Int]
  public let accuracy: [Double]
  public let populations: [SimulationResult.PopulationResult]
  /// Wall-clock seconds the simulation took.
  public let seconds: Double

  public init(settings: Settings, result: SimulationResult, seconds: Double) {
    self.settings = settings
    self.seconds = seconds
    images = result.images
    annAccuracy = result.annAccuracy
    timesteps = result.timesteps
    accuracy = result.accuracy
    populations = result.populations
  }

  /// Writes the record as JSON at `path` and as CSV beside it (same name, `.csv`): one row per
  /// T with the accuracy and each population's mean absolute error. Both atomically.
  public func write(json path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    let json = try encoder.encode(self)
    try writeAtomically(to: path) { try json.write(to: URL(fileURLWithPath: $0)) }
    var csv =
      (["timesteps", "accuracy"] + populations.map { "\($0.name)_mean_abs_error" }).joined(separator: ",")
      + "\n"
    for (row, t) in timesteps.enumerated() {
      csv +=
        ([String(t), accuracy[row].description] + populations.map { $0.meanAbsError[row].description })
        .joined(separator: ",") + "\n"
    }
    let csvPath = (path.hasSuffix(".json") ? String(path.dropLast(5)) : path) + ".csv"
    try writeAtomically(to: csvPath) { try csv.write(toFile: $0, atomically: false, encoding: .utf8) }
  }

  /// Reads a record written by ``write(json:)``.
  public static func read(json path: String) throws -> RunRecord {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
  }
}
