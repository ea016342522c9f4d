import AtomicFile
import Datasets
import Foundation
import Graph
import Spiking

/// A simulation run as `snnsim run --results` writes it: its settings, typed, and what it
/// measured. Encoded as JSON with snake_case keys by ``encoded()`` and decoded by
/// ``init(json:)``, the one place either happens (docs/snn-format.md gives the schema).
public struct RunRecord: Codable, Sendable {
  /// How the run was made: the network, its conversion and the simulation.
  public struct Settings: Codable, Sendable, Hashable {
    /// The `.snn.h5` file simulated, or a note that it was converted in memory.
    public let network: String
    /// The network's name.
    public let name: String
    /// The ANN the network was converted from, and its SHA-256.
    public let sourceModel: String
    public let sourceSha256: String
    /// The populations' dynamics and step schedules, each once.
    public let dynamics: [Dynamics]
    public let schedules: [StepSchedule]
    public let normalization: Normalization
    /// Over which neurons a scale is shared.
    public let granularity: Granularity
    /// Whether max pooling, LayerNorm and inner softmax ran as fused populations.
    public let fused: Bool
    public let calibrationImages: Int
    /// How affine nodes were updated (encoded as `engine`, the command line's word).
    public let engine: AffineUpdate
    public let input: InputEncoding
    /// The data set and split, e.g. `fashion-mnist/test`.
    public let data: String
    public let limit: Int?
    public let batchSize: Int
    /// The number of time steps the conversion was tuned for; nil if it was not (and in records
    /// written before tuning existed).
    public let targetTimesteps: Int?
    /// Images of the data skipped before the run's (`--offset`); nil for none.
    public var offset: Int?
    /// What was done to the images (`--scale`, `--mean`, `--std`); nil for nothing.
    public var preprocessing: Preprocessing?
    /// The neuron model's own settings (``NeuronParameters``: reset, leak, bits …) of the first
    /// population that has any; nil where none has (and in older records, which wrote a
    /// membrane's as ``reset`` and ``leak``: read ``neuronSettings``).
    public var neuron: NeuronParameters?
    /// Bits each neuron sends per step (``NeuronModel/bitsPerStep(_:)``): 1 for binary spikes,
    /// `b` for bursts of up to `2ᵇ − 1`; nil in records written before it was stored (1).
    public var bitsPerStep: Double?
    /// A membrane's reset and leak τ as records wrote them before ``neuron``, still written for
    /// their readers.
    public var reset: ResetMode?
    public var leak: Double?
    /// Membrane neurons' mean starting membrane (a fraction of the threshold); nil in a network
    /// without membrane neurons (and in older records).
    public var initialMembrane: Double?

    /// ``neuron``, or in an older record the membrane settings it wrote on their own.
    public var neuronSettings: NeuronParameters? {
      if let neuron { return neuron }
      guard reset != nil || leak != nil else { return nil }
      return MembraneIntegrateAndFire.Membrane(reset: reset ?? .subtract, leak: leak).parameters
    }

    /// Bits per neuron and step, 1 where the record does not say.
    public var bits: Double { bitsPerStep ?? 1 }

    public init(
      network: String, name: String, sourceModel: String, sourceSha256: String, dynamics: [Dynamics],
      schedules: [StepSchedule], normalization: Normalization, granularity: Granularity, fused: Bool,
      calibrationImages: Int, engine: AffineUpdate, input: InputEncoding, data: String, limit: Int?,
      batchSize: Int, targetTimesteps: Int? = nil
    ) {
      self.network = network
      self.name = name
      self.sourceModel = sourceModel
      self.sourceSha256 = sourceSha256
      self.dynamics = dynamics
      self.schedules = schedules
      self.normalization = normalization
      self.granularity = granularity
      self.fused = fused
      self.calibrationImages = calibrationImages
      self.engine = engine
      self.input = input
      self.data = data
      self.limit = limit
      self.batchSize = batchSize
      self.targetTimesteps = targetTimesteps
    }

    /// The settings of simulating `network` (found at `networkPath`, converted from
    /// `sourceModel`) with `simulation` on `data`.
    public init(
      network: SpikingNetwork, networkPath: String, sourceModel: String, sourceSha256: String,
      simulation: SimulationSettings, data: String, limit: Int?
    ) {
      self.init(
        network: networkPath, name: network.graph.name, sourceModel: sourceModel, sourceSha256: sourceSha256,
        dynamics: network.dynamics, schedules: network.schedules, normalization: network.normalization,
        granularity: network.granularity, fused: network.isFused,
        calibrationImages: network.calibrationImages,
        engine: simulation.update, input: simulation.input, data: data, limit: limit,
        batchSize: simulation.batchSize, targetTimesteps: network.targetTimesteps)
      if let membrane = network.populations.first(where: { $0.dynamics.model.hasMembrane }) {
        // Also as records wrote them before, for their readers.
        let settings = MembraneIntegrateAndFire.Membrane(membrane.parameters)
        (reset, leak) = (settings.reset, settings.leak)
        initialMembrane = membrane.initial.reduce(0, +) / Double(max(membrane.initial.count, 1))
      }
      neuron = network.populations.first(where: { !$0.parameters.isEmpty })?.parameters
      bitsPerStep = network.populations.map { $0.dynamics.model.bitsPerStep($0.parameters) }.max()

    }
  }

  public let settings: Settings
  public let images: Int
  public let annAccuracy: Double
  public let timesteps: [Int]
  public let accuracy: [Double]
  /// The share of images on which the spiking network predicts what the ANN predicts, per T
  /// (absent in records written before it was measured).
  public let agreement: [Double]?
  public let populations: [SimulationResult.PopulationResult]
  /// Wall-clock seconds the simulation took.
  public let seconds: Double
  /// Multiply-accumulates per image of the ANN's Dense and Conv2D layers (absent in records
  /// written before they were counted).
  public let annMultiplyAccumulates: Double?
  /// Multiply-accumulates per image the spiking network does once per image, not per step: the
  /// weight layers fed by the analog input alone.
  public let onceMultiplyAccumulates: Double?
  /// The spikes of one image, when the run recorded them (``SpikeRaster``).
  public let raster: SpikeRaster?
  /// What a step cost next to the ANN's forward pass (absent in records written before it was
  /// timed).
  public let stepCost: StepCost?
  /// The record's layout (``currentFormat`` when written by this version; absent in records of
  /// layout 1 written before the number was stored).
  public let formatVersion: Int?

  /// The layout this version writes. 0: settings as text (`"schedules": ["geometric(eta0: 0.15,
  /// gamma: 0.95)"]`), written before run records were typed; 1: typed settings, the fields
  /// since added all optional. A change that older readers would misread bumps it.
  public static let currentFormat = 1

  public init(settings: Settings, result: SimulationResult, seconds: Double) {
    self.formatVersion = Self.currentFormat
    self.settings = settings
    self.seconds = seconds
    annMultiplyAccumulates = result.annMultiplyAccumulates
    onceMultiplyAccumulates = result.onceMultiplyAccumulates
    images = result.images
    annAccuracy = result.annAccuracy
    timesteps = result.timesteps
    accuracy = result.accuracy
    agreement = result.agreement.isEmpty ? nil : result.agreement
    populations = result.populations
    raster = result.raster
    stepCost = result.stepCost
  }

  /// How many time steps the run needs to come within `tolerance` (a fraction: 0.01 = 1 pp) of
  /// the ANN's accuracy and stay there at every later measured T; nil if it never does.
  public func timesteps(toWithin tolerance: Double) -> Int? {
    var answer: Int?
    for (t, accuracy) in zip(timesteps, accuracy).reversed() {
      guard annAccuracy - accuracy <= tolerance + 1e-12 else { break }
      answer = t
    }
    return answer
  }

  /// The record as JSON: snake_case keys, sorted, indented.
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return try encoder.encode(self)
  }

  /// Decodes a record written by ``encoded()`` and checks it as ``problem`` does.
  /// - Throws: a `DecodingError` when the JSON does not have the record's form, and
  ///   ``RunRecordError/invalid(_:)`` when it has the form but not a run's meaning.
  public init(json data: Data) throws {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
      self = try decoder.decode(RunRecord.self, from: data)
    } catch {
      if let layout = Self.otherLayout(data) { throw layout }
      throw error
    }
    if let formatVersion, formatVersion > Self.currentFormat {
      throw RunRecordError.layout(
        "a run record of format \(formatVersion), written by a newer snnsim; this version reads format \(Self.currentFormat) and the typed records before it"
      )
    }
    if let problem { throw RunRecordError.invalid(problem) }
  }

  /// Which other layout a record that does not decode has, when it is one: a newer format, or
  /// format 0 (settings as text). Nil for JSON that is no run record at all.
  static func otherLayout(_ data: Data) -> RunRecordError? {
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
    if let format = object["format_version"] as? Int, format > currentFormat {
      return .layout(
        "a run record of format \(format), written by a newer snnsim; this version reads format \(currentFormat) and the typed records before it"
      )
    }
    if let settings = object["settings"] as? [String: Any], let schedules = settings["schedules"] as? [Any],
      schedules.contains(where: { $0 is String }), object["timesteps"] != nil
    {
      return .layout(
        "a run record of format 0 (settings as text, e.g. schedules \"\(schedules.first.map { "\($0)" } ?? "")\"), written by snnsim before run records were typed (November 2026); its numbers are kept but this version does not read that layout"
      )
    }
    return nil
  }

  /// What makes the record something no run could have written, naming the field as the JSON
  /// spells it, or nil: time steps must be positive and strictly increasing; every per-T array
  /// must have one finite value per T (accuracies in [0, 1], errors, rates and operations
  /// non-negative); counts must be positive and schedules valid.
  public var problem: String? {
    guard !timesteps.isEmpty else { return "'timesteps' is empty" }
    guard timesteps[0] >= 1 else { return "'timesteps' starts at \(timesteps[0]); time steps count from 1" }
    for k in timesteps.indices.dropFirst() where timesteps[k] <= timesteps[k - 1] {
      return "'timesteps' is not strictly increasing (\(timesteps[k - 1]) then \(timesteps[k]))"
    }
    func check(_ values: [Double], _ field: String, atMostOne: Bool = false) -> String? {
      guard values.count == timesteps.count else {
        return "'\(field)' has \(values.count) values for \(timesteps.count) time steps"
      }
      let range = atMostOne ? "[0, 1]" : "[0, ∞)"
      if let k = values.firstIndex(where: { !($0.isFinite && $0 >= 0 && (!atMostOne || $0 <= 1)) }) {
        return "'\(field)[\(k)]' is \(values[k]), outside \(range)"
      }
      return nil
    }
    if let problem = check(accuracy, "accuracy", atMostOne: true) { return problem }
    if let agreement, let problem = check(agreement, "agreement", atMostOne: true) { return problem }
    guard annAccuracy.isFinite && (0...1).contains(annAccuracy) else {
      return "'ann_accuracy' is \(annAccuracy), outside [0, 1]"
    }
    guard images >= 1 else { return "'images' is \(images); a run simulates at least one image" }
    guard seconds.isFinite && seconds >= 0 else { return "'seconds' is \(seconds)" }
    for (value, field) in [
      (annMultiplyAccumulates, "ann_multiply_accumulates"),
      (onceMultiplyAccumulates, "once_multiply_accumulates"),
    ] {
      if let value, !(value.isFinite && value >= 0) { return "'\(field)' is \(value), outside [0, ∞)" }
    }
    for (k, population) in populations.enumerated() {
      let field = "populations[\(k)]"
      guard (1...Graph.maximumElements).contains(population.neurons) else {
        return "'\(field).neurons' is \(population.neurons), outside 1…\(Graph.maximumElements)"
      }
      guard population.scale.isFinite else { return "'\(field).scale' is \(population.scale)" }
      for (values, name) in [
        (population.meanAbsError, "mean_abs_error"), (population.meanRelativeError, "mean_relative_error"),
        (population.spikesPerNeuronPerStep, "spikes_per_neuron_per_step"),
        (population.synapticOperations, "synaptic_operations"),
      ] {
        if let problem = check(values, "\(field).\(name)") { return problem }
      }
    }
    if let raster {
      if let problem = raster.problem { return problem }
      guard raster.image < images else { return "'raster.image' is \(raster.image) of \(images) images" }
    }
    guard settings.batchSize >= 1 else { return "'settings.batch_size' is \(settings.batchSize)" }
    guard settings.calibrationImages >= 0 else {
      return "'settings.calibration_images' is \(settings.calibrationImages)"
    }
    if let limit = settings.limit, limit < 1 { return "'settings.limit' is \(limit)" }
    if let target = settings.targetTimesteps, target < 1 {
      return "'settings.target_timesteps' is \(target)"
    }
    for (k, schedule) in settings.schedules.enumerated() {
      if let problem = schedule.problem { return "'settings.schedules[\(k)]': \(problem)" }
    }
    return nil
  }

  /// The record as CSV: one row per T with the accuracy, the agreement with the ANN (when
  /// measured) and each population's mean absolute error.
  public func csv() -> String {
    var text =
      (["timesteps", "accuracy"] + (agreement == nil ? [] : ["agreement"])
      + populations.map { "\($0.name)_mean_abs_error" }).joined(separator: ",")
      + "\n"
    for (row, t) in timesteps.enumerated() {
      text +=
        ([String(t), accuracy[row].description] + (agreement.map { [$0[row].description] } ?? [])
        + populations.map { $0.meanAbsError[row].description })
        .joined(separator: ",") + "\n"
    }
    return text
  }

  /// Writes the record as JSON and CSV at the paths ``paths(forResults:)`` gives for `path`, both
  /// atomically.
  public func write(json path: String) throws {
    let paths = Self.paths(forResults: path)
    try AtomicFile.write([(paths.json, try encoded()), (paths.csv, Data(csv().utf8))])
  }

  /// The largest run record read: 64 MiB (a record of every T up to 10⁵ for a hundred layers
  /// is a few MiB).
  public static let maximumFileBytes = 1 << 26

  /// Where `--results PATH` puts the JSON and the CSV: a path ending in `.csv` gets the CSV and
  /// the JSON beside it (same name, `.json`); any other path gets the JSON and the CSV beside it.
  public static func paths(forResults path: String) -> (json: String, csv: String) {
    path.lowercased().hasSuffix(".csv")
      ? (String(path.dropLast(4)) + ".json", path) : (path, csvPath(besides: path))
  }

  /// Where ``write(json:)`` puts the CSV: the JSON's name with `.csv`.
  public static func csvPath(besides json: String) -> String {
    (json.hasSuffix(".json") ? String(json.dropLast(5)) : json) + ".csv"
  }

  /// Reads a record written by ``write(json:)``, checked as ``init(json:)`` does.
  public static func read(json path: String) throws -> RunRecord {
    try RunRecord(json: InputFile.read(path, limit: maximumFileBytes))
  }
}

/// Why a decoded run record cannot be used.
public enum RunRecordError: Error, Equatable, CustomStringConvertible {
  /// The record has the JSON form of a run but values no run could have (the text says which).
  case invalid(String)
  /// The record is a run record of a layout this version does not read (the text says which
  /// and who wrote it).
  case layout(String)

  public var description: String {
    switch self {
    case .invalid(let problem): return problem
    case .layout(let layout): return layout
    }
  }
}
