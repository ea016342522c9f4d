import Graph
import Tensor

/// How the normalization scales λ of populations are taken from calibration data
/// (docs/dynamics.md, "Normalization").
///
/// Encoded (JSON, `.snn.h5` attributes, command lines) as its ``description``: `none`, `max` or
/// `pNN.N`.
public enum Normalization: Sendable, Hashable, Codable, CustomStringConvertible {
  /// λ = 1: the neurons work on the raw values.
  case none
  /// λ = the largest activation seen on the calibration images.
  case max
  /// λ = the given percentile (e.g. 99.9) of the positive activations seen.
  case percentile(Double)

  public var description: String {
    switch self {
    case .none: return "none"
    case .max: return "max"
    case .percentile(let p): return "p\(p)"
    }
  }

  /// Parses `none`, `max` or `pNN.N` with `0 < NN.N ≤ 100`.
  public init?(_ text: String) {
    switch text {
    case "none": self = .none
    case "max": self = .max
    default:
      guard text.hasPrefix("p"), let value = Double(text.dropFirst()), value > 0, value <= 100 else {
        return nil
      }
      self = .percentile(value)
    }
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let value = Normalization(text) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "normalization must be none, max or pNN.N, got '\(text)'")
    }
    self = value
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// Over which neurons one normalization scale is shared (docs/dynamics.md, "Normalization").
public enum Granularity: String, Sendable, Hashable, Codable, CaseIterable {
  /// One λ per population.
  case layer
  /// One λ per channel (position on the last axis).
  case channel
  /// One λ per neuron of a sample.
  case neuron
}

/// One population of a spiking network: the node it replaces and how its neurons run.
public struct PopulationSpec: Sendable, Hashable, Codable {
  /// The graph node whose output the population estimates.
  public let node: String
  public let target: NeuronTarget
  public let dynamics: Dynamics
  public let schedule: StepSchedule
  /// λ: neurons estimate `g/λ`; `[1]` without normalization. One value for the whole
  /// population, or one per position of the innermost `scales.count` elements of a sample (per
  /// channel: the last axis; per neuron: the whole sample).
  public let scales: [Double]

  /// `v_0`, the estimate every neuron starts from, in units of λ (docs/dynamics.md, "Neurons"):
  /// one value for the whole population or one per inner position, as for ``scales``; `[0]`
  /// unless the conversion was tuned.
  public let initial: [Double]

  /// The model's own settings (``NeuronModel/parameters``), all of them: a membrane's reset and
  /// leak, a burst neuron's bits; empty for models without any.
  public let parameters: NeuronParameters

  /// Added to what feeds the population before its neurons read it — the input of a one-input
  /// target, in the units of the ANN's activations — one value for the whole population or one
  /// per inner position, as for ``scales``; empty unless tuning corrected the mean error of the
  /// population's output (docs/dynamics.md, "Tuning for few time steps"). The ANN itself is not
  /// changed: the reference the simulator compares with stays the graph's.
  public let offsets: [Double]

  /// The largest λ, which is the population's only one at layer granularity.
  public var scale: Double { scales.max() ?? 1 }

  /// - Parameter parameters: the model's settings; those left out take the model's defaults
  ///   (``NeuronParameters/resolved(for:)``).
  public init(
    node: String, target: NeuronTarget, dynamics: Dynamics, schedule: StepSchedule, scales: [Double],
    initial: [Double] = [0], parameters: NeuronParameters = NeuronParameters(), offsets: [Double] = []
  ) {
    self.node = node
    self.offsets = offsets
    self.target = target
    self.dynamics = dynamics
    self.schedule = schedule
    self.scales = scales
    self.initial = initial
    // Checked by SpikingNetwork's validation.
    self.parameters = parameters.completed(for: dynamics)
  }

  public init(node: String, target: NeuronTarget, dynamics: Dynamics, schedule: StepSchedule, scale: Double) {
    self.init(node: node, target: target, dynamics: dynamics, schedule: schedule, scales: [scale])
  }

  /// The same population with another schedule, scales, initial estimates or input offsets.
  public func with(
    schedule: StepSchedule? = nil, scales: [Double]? = nil, initial: [Double]? = nil, offsets: [Double]? = nil
  ) -> PopulationSpec {
    PopulationSpec(
      node: node, target: target, dynamics: dynamics, schedule: schedule ?? self.schedule,
      scales: scales ?? self.scales, initial: initial ?? self.initial, parameters: parameters,
      offsets: offsets ?? self.offsets)
  }

  private enum CodingKeys: String, CodingKey {
    case node, target, dynamics, schedule, scales, initial, parameters, offsets
    // Before models declared their settings, a membrane's were fields of their own.
    case reset, leak
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    var parameters =
      try container.decodeIfPresent(NeuronParameters.self, forKey: .parameters) ?? NeuronParameters()
    let dynamics = try container.decode(Dynamics.self, forKey: .dynamics)
    if dynamics.model.hasMembrane {
      if let reset = try container.decodeIfPresent(ResetMode.self, forKey: .reset) {
        parameters[MembraneIntegrateAndFire.resetParameter.name] = .word(reset.rawValue)
      }
      if let leak = try container.decodeIfPresent(Double.self, forKey: .leak) {
        parameters[MembraneIntegrateAndFire.leakParameter.name] = .number(leak)
      }
    }
    self.init(
      node: try container.decode(String.self, forKey: .node),
      target: try container.decode(NeuronTarget.self, forKey: .target),
      dynamics: dynamics,
      schedule: try container.decode(StepSchedule.self, forKey: .schedule),
      scales: try container.decode([Double].self, forKey: .scales),
      initial: try container.decodeIfPresent([Double].self, forKey: .initial) ?? [0],
      parameters: parameters,
      offsets: try container.decodeIfPresent([Double].self, forKey: .offsets) ?? [])
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(node, forKey: .node)
    try container.encode(target, forKey: .target)
    try container.encode(dynamics, forKey: .dynamics)
    try container.encode(schedule, forKey: .schedule)
    try container.encode(scales, forKey: .scales)
    try container.encode(initial, forKey: .initial)
    if !parameters.isEmpty { try container.encode(parameters, forKey: .parameters) }
    if !offsets.isEmpty { try container.encode(offsets, forKey: .offsets) }
  }
}

/// Why parts do not form a spiking network.
public enum SpikingNetworkError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A non-affine node has no population (only a final softmax may go without: the readout
  /// skips it).
  case nodeWithoutPopulation(node: String, op: String)
  /// A population that does not fit its node.
  case invalidPopulation(node: String, detail: String)
  /// The readout names no node of the graph.
  case unknownReadout(String)
  /// A negative number of calibration images.
  case negativeCalibrationCount(Int)
  /// A target number of time steps below 1.
  case invalidTargetTimesteps(Int)

  public var description: String {
    switch self {
    case .nodeWithoutPopulation(let node, let op):
      return "'\(node)' (\(op)) is not affine and has no population of spiking neurons"
    case .invalidPopulation(let node, let detail):
      return "population '\(node)': \(detail)"
    case .unknownReadout(let name):
      return "the readout '\(name)' is not a node of the graph"
    case .negativeCalibrationCount(let count):
      return "calibrated on \(count) images"
    case .invalidTargetTimesteps(let count):
      return "tuned for \(count) time steps (at least 1)"
    }
  }
}

/// A trained network in spiking form: the affine part of the graph stays as it is; every
/// non-affine node is a population of neurons (docs/dynamics.md). Conversion produces it
/// (module `Conversion`), the `.snn.h5` file stores it, the ``Simulator`` runs it.
///
/// Always valid: the initializer checks that every population sits on a non-affine node with
/// scales that divide its neurons, that every non-affine node has a population, and that the
/// readout exists.
public struct SpikingNetwork: Sendable {
  /// The graph after conversion passes (Dropout removed, BatchNorm folded, composites
  /// decomposed unless fused).
  public let graph: Graph
  /// One entry per non-affine node, in node order.
  public let populations: [PopulationSpec]
  /// A softmax at the very end is left to the readout (arg-max is unchanged by it); this names
  /// the node whose output is read, the one before such a softmax.
  public let readout: String
  /// How the populations' scales were chosen, over which neurons each is shared, and from how
  /// many calibration images.
  public let normalization: Normalization
  public let granularity: Granularity
  public let calibrationImages: Int
  /// The number of time steps the conversion was tuned for (``Tuning``), nil if it was not.
  public let targetTimesteps: Int?

  /// A network from its parts.
  /// - Throws: ``SpikingNetworkError`` for the first part that does not fit.
  public init(
    graph: Graph, populations: [PopulationSpec], readout: String, normalization: Normalization = .none,
    granularity: Granularity = .layer, calibrationImages: Int = 0, targetTimesteps: Int? = nil
  ) throws {
    var seen = Set<String>()
    for spec in populations {
      guard seen.insert(spec.node).inserted else {
        throw SpikingNetworkError.invalidPopulation(node: spec.node, detail: "listed twice")
      }
      guard let node = graph.node(spec.node), !node.op.isAffine else {
        throw SpikingNetworkError.invalidPopulation(
          node: spec.node, detail: "not a non-affine node of the graph")
      }
      if let detail = Self.problem(with: spec, on: node) {
        throw SpikingNetworkError.invalidPopulation(node: spec.node, detail: detail)
      }
    }
    for node in graph.nodes where !node.op.isAffine && !seen.contains(node.name) {
      guard node.op == .softmax && graph.outputs.contains(node.name) else {
        throw SpikingNetworkError.nodeWithoutPopulation(node: node.name, op: node.op.kind)
      }
    }
    guard graph.node(readout) != nil else { throw SpikingNetworkError.unknownReadout(readout) }
    guard calibrationImages >= 0 else {
      throw SpikingNetworkError.negativeCalibrationCount(calibrationImages)
    }
    if let targetTimesteps, targetTimesteps < 1 {
      throw SpikingNetworkError.invalidTargetTimesteps(targetTimesteps)
    }
    self.graph = graph
    self.populations = populations
    self.readout = readout
    self.normalization = normalization
    self.granularity = granularity
    self.calibrationImages = calibrationImages
    self.targetTimesteps = targetTimesteps
  }

  /// What is wrong with `spec` as the population of `node` (a non-affine node of the graph), or
  /// nil: its target, schedule, model, settings, and the counts of its scales, starts and offsets.
  static func problem(with spec: PopulationSpec, on node: Node) -> String? {
    guard let expected = NeuronTarget(populating: node.op), spec.target == expected else {
      return "target '\(spec.target.name)' does not fit a \(node.op.kind) node"
    }
    if let problem = spec.schedule.problem {
      return "schedule: \(problem)"
    }
    if spec.schedule.isPerNeuron && !spec.dynamics.model.acceptsPerNeuronSchedule {
      return "the adaptive schedule is for signGD neurons, not \(spec.dynamics.rawValue)"
    }
    if !spec.dynamics.model.approximates(spec.target) {
      return
        ("\(spec.dynamics.rawValue) neurons do not compute '\(spec.target.name)'\(spec.dynamics.model.hasMembrane ? " (membrane integrate-and-fire neurons compute ReLU and capped ReLU)" : "")")
    }
    if let problem = spec.parameters.problem(for: spec.dynamics) {
      return problem
    }
    let neurons = node.shape.reduce(1, *)
    guard !spec.scales.isEmpty, neurons % spec.scales.count == 0,
      spec.scales.allSatisfy({ $0 > 0 && $0.isFinite })
    else {
      return "\(spec.scales.count) scales for \(neurons) neurons (each must be positive)"
    }
    if let largest = spec.dynamics.model.largestScale(for: spec.target), spec.scale > largest {
      return
        ("λ = \(spec.scale) above \(largest): \(spec.dynamics.rawValue) neurons compute '\(spec.target.name)' only with λ ≤ \(largest)")
    }
    guard !spec.initial.isEmpty, neurons % spec.initial.count == 0, spec.initial.allSatisfy(\.isFinite)
    else {
      return "\(spec.initial.count) initial estimates for \(neurons) neurons (each must be finite)"
    }
    if !spec.offsets.isEmpty {
      guard spec.target.arity == 1 else {
        return "input offsets on the two-input target '\(spec.target.name)'"
      }
      guard neurons % spec.offsets.count == 0, spec.offsets.allSatisfy(\.isFinite) else {
        return "\(spec.offsets.count) input offsets for \(neurons) neurons (each must be finite)"
      }
    }
    return nil
  }

  /// The same network with other populations (a tuned schedule or start, say), and optionally
  /// the number of time steps they were tuned for.
  /// - Throws: ``SpikingNetworkError`` as ``init(graph:populations:readout:normalization:granularity:calibrationImages:targetTimesteps:)``.
  public func replacing(populations: [PopulationSpec], targetTimesteps: Int? = nil) throws -> SpikingNetwork {
    try SpikingNetwork(
      graph: graph, populations: populations, readout: readout, normalization: normalization,
      granularity: granularity, calibrationImages: calibrationImages,
      targetTimesteps: targetTimesteps ?? self.targetTimesteps)
  }

  /// The part of the network that computes `node`: its ancestors and itself, with their
  /// populations, read out at `node`. Simulating it costs only what `node` depends on.
  /// - Precondition: `node` is a node of the graph.
  public func truncated(at node: String) throws -> SpikingNetwork {
    precondition(graph.node(node) != nil, "no node '\(node)'")
    var needed: Set<String> = [node]
    for candidate in graph.nodes.reversed() where needed.contains(candidate.name) {
      needed.formUnion(candidate.inputs)
    }
    let part = try Graph(
      name: graph.name, nodes: graph.nodes.filter { needed.contains($0.name) }, outputs: [node])
    return try SpikingNetwork(
      graph: part, populations: populations.filter { needed.contains($0.node) }, readout: node,
      normalization: normalization, granularity: granularity, calibrationImages: calibrationImages,
      targetTimesteps: targetTimesteps)
  }

  /// Whether composite layers run as fused populations (their op is still in the graph).
  public var isFused: Bool {
    graph.nodes.contains { node in
      switch node.op {
      case .pool2d(let a): return a.mode == .max
      case .layerNorm: return true
      case .softmax: return !graph.outputs.contains(node.name)
      case .input, .dense, .conv2d, .globalAveragePool2d, .flatten, .reshape, .batchNorm, .dropout, .add,
        .concatenate, .activation, .binary, .windowElement, .lastAxis, .lastAxisRotation, .scaleShift,
        .zeroPad2d,
        .crop2d, .permute, .upSample2d, .conv2dTranspose, .spread2d:
        return false
      }
    }
  }

  /// The dynamics of the populations, each once, sorted by name.
  public var dynamics: [Dynamics] {
    Set(populations.map(\.dynamics)).sorted { $0.rawValue < $1.rawValue }
  }

  /// The step schedules of the populations, each once, sorted by description.
  public var schedules: [StepSchedule] {
    Set(populations.map(\.schedule)).sorted { $0.description < $1.description }
  }
}
