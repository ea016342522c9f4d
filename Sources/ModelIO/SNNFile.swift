import AtomicFile
import Foundation
import Graph
import HDF5
import Spiking
import Tensor

/// The toolkit's own file for a converted spiking network (`.snn.h5`), documented in
/// docs/snn-format.md. HDF5 with:
///
/// - `/` attributes `format` = `snnkit.snn`, `version` (integer), `name`, `toolkit_version`,
///   `source_model` and `source_sha256` (the ANN file it was converted from), `readout`,
///   `normalization` (`none`, `max`, `pNN.N`), `granularity` (`layer`, `channel`, `neuron`;
///   version 2), `calibration_images` and, for a network tuned for a number of time steps,
///   `target_timesteps` (version 3);
/// - `/graph` attributes `nodes` (JSON: name, op, inputs, shape per node, in order) and `outputs`;
///   datasets `/graph/parameters/<node>/<parameter>` (float32, Keras layouts);
/// - `/populations/<node>` groups with attributes `dynamics`, `schedule` (JSON), `target` (JSON)
///   and `scale` (float64, the largest λ), plus a float64 dataset `scales` when λ is per channel or
///   per neuron (version 2), and a float64 dataset `initial` of `v_0` (one, per channel or per
///   neuron) when a tuned conversion starts the neurons elsewhere than 0 (version 3), in the order
///   of attribute `/populations@order`; membrane populations (dynamics `if`, version 4) add the
///   attribute `reset` (`subtract` or `zero`) and, when leaky, `leak` (float64, τ), and their
///   `initial` is the starting membrane potential as a fraction of the threshold; a float64
///   dataset `offsets` (one, per channel or per neuron) when tuning shifted a population's input
///   (version 6).
///
/// Version 2 added the decomposition ops to the graph, per-channel and per-neuron scales and
/// `granularity`; version 1 files read as layer granularity. Version 3 added `initial`; older
/// files start every neuron at 0. Version 4 added membrane populations. Version 5 writes the
/// JSON attributes' keys in snake_case, like every other JSON the toolkit writes; older files
/// hold the field names of the toolkit's types (camelCase), which the snake_case decoding leaves
/// as they are, so they read as before (``SnakeCaseKeys``). Version 6 added `offsets`; older files
/// shift no input.
public enum SNNFile {
  public static let format = "snnkit.snn"
  public static let version: Int64 = 6

  /// Where a network came from.
  public struct Provenance: Sendable, Equatable {
    public let sourceModel: String
    public let sourceSHA256: String
    public let toolkitVersion: String
    public init(sourceModel: String, sourceSHA256: String, toolkitVersion: String) {
      self.sourceModel = sourceModel
      self.sourceSHA256 = sourceSHA256
      self.toolkitVersion = toolkitVersion
    }
  }

  struct NodeRecord: Codable {
    let name: String
    let op: Op
    let inputs: [String]
    let shape: [Int]
  }

  /// Writes `network` atomically.
  public static func write(_ network: SpikingNetwork, provenance: Provenance, to path: String) throws {
    let encoder = SnakeCaseKeys.encoder
    func json<T: Encodable>(_ value: T) throws -> String {
      String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    do {
      try AtomicFile.write(to: path) { temporary in
        let root = try HDF5File.create(temporary).root
        try root.writeAttribute("format", string: format)
        try root.writeAttribute("version", values: [version])
        try root.writeAttribute("name", string: network.graph.name)
        try root.writeAttribute("toolkit_version", string: provenance.toolkitVersion)
        try root.writeAttribute("source_model", string: provenance.sourceModel)
        try root.writeAttribute("source_sha256", string: provenance.sourceSHA256)
        try root.writeAttribute("readout", string: network.readout)
        try root.writeAttribute("normalization", string: network.normalization.description)
        try root.writeAttribute("granularity", string: network.granularity.rawValue)
        try root.writeAttribute("calibration_images", values: [Int64(network.calibrationImages)])
        if let target = network.targetTimesteps {
          try root.writeAttribute("target_timesteps", values: [Int64(target)])
        }
        let graph = try root.createGroup("graph")
        let records = network.graph.nodes.map {
          NodeRecord(name: $0.name, op: $0.op, inputs: $0.inputs, shape: $0.shape)
        }
        try graph.writeAttribute("nodes", string: try json(records))
        try graph.writeAttribute("outputs", strings: network.graph.outputs)
        for node in network.graph.nodes {
          for (name, tensor) in node.parameters.sorted(by: { $0.key < $1.key }) {
            try graph.writeDataset(
              "parameters/\(node.name)/\(name)", values: tensor.scalars, shape: tensor.shape)
          }
        }
        let populations = try root.createGroup("populations")
        try populations.writeAttribute("order", strings: network.populations.map(\.node))
        for spec in network.populations {
          let group = try populations.createGroup(spec.node)
          try group.writeAttribute("dynamics", string: spec.dynamics.rawValue)
          try group.writeAttribute("schedule", string: try json(spec.schedule))
          try group.writeAttribute("target", string: try json(spec.target))
          try group.writeAttribute("scale", values: [spec.scale])
          if spec.scales.count > 1 {
            try group.writeDataset("scales", values: spec.scales, shape: [spec.scales.count])
          }
          if spec.initial.contains(where: { $0 != 0 }) {
            try group.writeDataset("initial", values: spec.initial, shape: [spec.initial.count])
          }
          if !spec.offsets.isEmpty {
            try group.writeDataset("offsets", values: spec.offsets, shape: [spec.offsets.count])
          }
          // The model's own settings, one attribute each (a membrane's reset and leak …).
          for (name, value) in spec.parameters.values.sorted(by: { $0.key < $1.key }) {
            switch value {
            case .number(let number): try group.writeAttribute(name, values: [number])
            case .word(let word): try group.writeAttribute(name, string: word)
            }
          }
        }
        // A write that failed (a full disk) is reported here, before the rename.
        try root.file.flush()
      }
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
  }

  /// A population's per-channel or per-neuron values (`what`: scales, initial estimates), their
  /// count checked against its node's shape before they are read.
  static func readPerPosition(
    _ dataset: HDF5Dataset, _ what: String, of population: String, nodeShape: [Int]?, file: String
  ) throws -> [Double] {
    let stored = try dataset.shape
    guard let nodeShape else {
      throw ModelIOError.badConfig(
        file: file, detail: "population '\(population)' names no node of the graph")
    }
    let allowed = Set([1, nodeShape.last ?? 1, nodeShape.reduce(1, *)])
    guard stored.count == 1, allowed.contains(stored[0]) else {
      throw ModelIOError.badConfig(
        file: file,
        detail: "population '\(population)' has \(stored) \(what) for a node of shape \(nodeShape) "
          + "(one, one per channel or one per neuron)")
    }
    return try dataset.read(as: Double.self)
  }

  public static func isSNNFile(_ path: String) -> Bool {
    guard let root = try? HDF5File.open(path).root, root.hasAttribute("format") else { return false }
    return (try? root.readString("format")) == format
  }

  /// Reads a network written by ``write(_:provenance:to:)``.
  /// - Throws: ``ModelIOError/badConfig(file:detail:)`` for another format or a newer version.
  public static func read(_ path: String) throws -> (network: SpikingNetwork, provenance: Provenance) {
    do {
      let root = try HDF5File.open(path).root
      try checkFormat(root, path)
      let (graph, shapes) = try readGraph(root, path)
      let populationsGroup = try root.group("populations")
      let specs = try populationsGroup.readStringAttribute("order").map { name in
        try readPopulation(try populationsGroup.group(name), name, nodeShape: shapes[name], path)
      }
      let normalizationText = try root.readString("normalization")
      guard let normalization = Normalization(normalizationText) else {
        throw ModelIOError.badConfig(file: path, detail: "unknown normalization '\(normalizationText)'")
      }
      var granularity = Granularity.layer
      if root.hasAttribute("granularity") {
        let text = try root.readString("granularity")
        guard let value = Granularity(rawValue: text) else {
          throw ModelIOError.badConfig(file: path, detail: "unknown granularity '\(text)'")
        }
        granularity = value
      }
      let network: SpikingNetwork
      do {
        network = try SpikingNetwork(
          graph: graph, populations: specs, readout: try root.readString("readout"),
          normalization: normalization, granularity: granularity,
          calibrationImages: Int(
            clamping: try root.readAttribute("calibration_images", as: Int64.self).first ?? 0),
          targetTimesteps: root.hasAttribute("target_timesteps")
            ? Int(clamping: try root.readAttribute("target_timesteps", as: Int64.self).first ?? 0) : nil)
      } catch let error as SpikingNetworkError {
        throw ModelIOError.badConfig(file: path, detail: error.description)
      }
      let provenance = Provenance(
        sourceModel: try root.readString("source_model"), sourceSHA256: try root.readString("source_sha256"),
        toolkitVersion: try root.readString("toolkit_version"))
      return (network, provenance)
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
  }

  /// Refuses a file of another format or of a version this toolkit does not read.
  static func checkFormat(_ root: HDF5Group, _ path: String) throws {
    guard root.hasAttribute("format"), try root.readString("format") == format else {
      throw ModelIOError.badConfig(
        file: path, detail: "not a \(format) file (no format attribute '\(format)')")
    }
    let fileVersion = try root.readAttribute("version", as: Int64.self).first ?? 0
    guard fileVersion >= 1 else {
      throw ModelIOError.badConfig(
        file: path, detail: "format version \(fileVersion) (versions start at 1)")
    }
    guard fileVersion <= version else {
      throw ModelIOError.badConfig(
        file: path,
        detail: "written in format version \(fileVersion); this toolkit reads up to version \(version)")
    }
  }

  /// `text` decoded as JSON (snake_case keys) into `T`; `what` names it in the error.
  static func decode<T: Decodable>(_ type: T.Type, _ text: String, _ what: String, _ path: String) throws -> T
  {
    do { return try SnakeCaseKeys.decoder.decode(T.self, from: Data(text.utf8)) } catch {
      throw ModelIOError.badConfig(file: path, detail: "\(what) is not valid: \(error)")
    }
  }

  /// `/graph`: the nodes, their parameters (each checked against the shape its op and input give
  /// before it is read) and the outputs; and every node's recorded shape.
  static func readGraph(_ root: HDF5Group, _ path: String) throws -> (Graph, [String: [Int]]) {
    let graphGroup = try root.group("graph")
    let records = try decode([NodeRecord].self, try graphGroup.readString("nodes"), "/graph@nodes", path)
    var nodes = [Node]()
    var shapes = [String: [Int]]()
    for record in records {
      guard Graph.elementCount(record.shape) != nil else {
        throw ModelIOError.badConfig(file: path, detail: "node '\(record.name)' has shape \(record.shape)")
      }
      shapes[record.name] = record.shape
    }
    for record in records {
      var node = Node(name: record.name, op: record.op, inputs: record.inputs)
      let parametersPath = "parameters/\(record.name)"
      // Each parameter's shape follows from the node's op and its input's recorded shape, and
      // is checked before anything is read: the file cannot make the reader allocate.
      let inputShape = record.inputs.first.flatMap { shapes[$0] } ?? []
      let expected = Dictionary(
        record.op.parameterShapes(input: inputShape).map { ($0.name, $0.shape) },
        uniquingKeysWith: { a, _ in a })
      if graphGroup.kind(of: parametersPath) == .group {
        let group = try graphGroup.group(parametersPath)
        for name in try group.children() {
          guard let shape = expected[name] else {
            throw ModelIOError.badConfig(
              file: path,
              detail: "node '\(record.name)' (\(record.op.kind)) has no parameter '\(name)'")
          }
          let dataset = try group.dataset(name)
          node.parameters[name] = Tensor(
            shape: shape, scalars: try dataset.read(as: Float.self, expecting: shape))
        }
      }
      nodes.append(node)
    }
    do {
      let graph = try Graph(
        name: try root.readString("name"), nodes: nodes,
        outputs: try graphGroup.readStringAttribute("outputs"))
      return (graph, shapes)
    } catch let error as GraphError {
      throw ModelIOError.invalidGraph(file: path, error: error)
    }
  }

  /// `/populations/<name>`: dynamics, schedule, target, scales, start, input offsets and the
  /// model's own settings, each checked.
  static func readPopulation(_ group: HDF5Group, _ name: String, nodeShape: [Int]?, _ path: String) throws
    -> PopulationSpec
  {
    guard let dynamics = Dynamics(rawValue: try group.readString("dynamics")) else {
      throw ModelIOError.badConfig(file: path, detail: "population '\(name)' has unknown dynamics")
    }
    var parameters = NeuronParameters()
    for parameter in dynamics.model.parameters where group.hasAttribute(parameter.name) {
      let value: NeuronParameters.Value
      switch parameter.domain {
      case .word: value = .word(try group.readString(parameter.name))
      case .number:
        guard let number = try group.readAttribute(parameter.name, as: Double.self).first else {
          throw ModelIOError.badConfig(
            file: path, detail: "population '\(name)' has an empty \(parameter.name)")
        }
        value = .number(number)
      }
      guard parameter.accepts(value) else {
        throw ModelIOError.badConfig(
          file: path,
          detail: "population '\(name)' has \(parameter.name) '\(value)' (\(parameter.expected))")
      }
      parameters[parameter.name] = value
    }
    /// The dataset `dataset` of per-position values, or `fallback` where there is none.
    func perPosition(_ dataset: String, _ what: String, or fallback: @autoclosure () throws -> [Double])
      throws
      -> [Double]
    {
      guard group.kind(of: dataset) == .dataset else { return try fallback() }
      return try readPerPosition(group.dataset(dataset), what, of: name, nodeShape: nodeShape, file: path)
    }
    return PopulationSpec(
      node: name,
      target: try decode(NeuronTarget.self, try group.readString("target"), "target of '\(name)'", path),
      dynamics: dynamics,
      schedule: try decode(
        StepSchedule.self, try group.readString("schedule"), "schedule of '\(name)'", path),
      scales: try perPosition(
        "scales", "scales", or: [try group.readAttribute("scale", as: Double.self).first ?? 1]),
      initial: try perPosition("initial", "initial estimates", or: [0]),
      parameters: parameters,
      offsets: try perPosition("offsets", "input offsets", or: []))
  }
}
