import Graph
import Tensor

/// How the normalization scales λ of populations are taken from calibration data (DYNAMICS.md §5).
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

  /// Parses `none`, `max` or `pNN.N`.
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
}

/// Over which neurons one normalization scale is shared (DYNAMICS.md §5).
public enum Granularity: String, Sendable, Hashable, Codable, CaseIterable {
  /// One λ per population.
  case layer
  /// One λ per channel (position on the last axis).
  case channel
  /// One λ per neuron of a sample.
  case neuron
}

/// One population of a converted network: the node it replaces and how its neurons run.
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

  /// The largest λ, which is the population's only one at layer granularity.
  public var scale: Double { scales.max() ?? 1 }

  public init(
    node: String, target: NeuronTarget, dynamics: Dynamics, schedule: StepSchedule, scales: [Double]
  ) {
    self.node = node
    self.target = target
    self.dynamics = dynamics
    self.schedule = schedule
    self.scales = scales
  }

  public init(node: String, target: NeuronTarget, dynamics: Dynamics, schedule: StepSchedule, scale: Double) {
    self.init(node: node, target: target, dynamics: dynamics, schedule: schedule, scales: [scale])
  }
}

/// Why a network cannot be converted.
public enum ConversionError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The op has no spiking neuron.
  case unsupportedOp(node: String, op: String)
  /// A network given in parts (as a file holds it) is inconsistent.
  case invalid(node: String, detail: String)

  public var description: String {
    switch self {
    case .unsupportedOp(let node, let op):
      return
        "'\(node)' (\(op)) has no spiking neuron; supported: elementwise activations, two-input functions, max pooling, LayerNorm and softmax"
    case .invalid(let node, let detail):
      return "'\(node)': \(detail)"
    }
  }
}

/// A trained network turned spiking: the affine part of the graph stays as it is; every
/// non-affine node becomes a population of neurons.
public struct SpikingNetwork: Sendable {
  /// The graph after conversion passes (Dropout removed, BatchNorm folded into the layer before it).
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

  /// A network from its parts, as a file reader restores it.
  /// - Throws: ``ConversionError/unsupportedOp(node:op:)`` when a population names no
  ///   non-affine node of the graph, or the readout is not a node.
  public init(
    graph: Graph, populations: [PopulationSpec], readout: String, normalization: Normalization = .none,
    granularity: Granularity = .layer, calibrationImages: Int = 0
  ) throws {
    for spec in populations {
      guard let node = graph.node(spec.node), !node.op.isAffine else {
        throw ConversionError.invalid(node: spec.node, detail: "a population without a non-affine node")
      }
      let neurons = node.shape.reduce(1, *)
      guard !spec.scales.isEmpty, neurons % spec.scales.count == 0,
        spec.scales.allSatisfy({ $0 > 0 && $0.isFinite })
      else {
        throw ConversionError.invalid(
          node: spec.node,
          detail: "\(spec.scales.count) scales for \(neurons) neurons (each must be positive)")
      }
    }
    let covered = Set(populations.map(\.node))
    for node in graph.nodes where !node.op.isAffine && !covered.contains(node.name) {
      guard node.op == .softmax && graph.outputs.contains(node.name) else {
        throw ConversionError.unsupportedOp(node: node.name, op: node.op.kind)
      }
    }
    guard graph.node(readout) != nil else {
      throw ConversionError.invalid(node: readout, detail: "the readout is not a node of the graph")
    }
    self.graph = graph
    self.populations = populations
    self.readout = readout
    self.normalization = normalization
    self.granularity = granularity
    self.calibrationImages = calibrationImages
  }

  /// Converts `graph`.
  /// - Parameters:
  ///   - fuse: keep max pooling, LayerNorm and inner softmax whole, as one population each whose
  ///     neurons track the composite op of their input estimates, instead of decomposing them
  ///     into affine steps and one- and two-input neurons (``GraphPasses/decompose(_:)``).
  ///   - calibration: images for data-based normalization (ignored for `.none`).
  ///   - granularity: how many neurons share one λ.
  ///   - schedule: nil uses each dynamics' default.
  /// - Throws: ``ConversionError`` for an op without a neuron.
  public init(
    _ graph: Graph, dynamics: Dynamics, schedule: StepSchedule? = nil, normalization: Normalization = .none,
    granularity: Granularity = .channel, calibration: Tensor<Float>? = nil, fuse: Bool = false
  ) throws {
    var converted = try GraphPasses.removeDropout(graph)
    converted = try GraphPasses.foldBatchNorm(converted)
    if !fuse { converted = try GraphPasses.decompose(converted) }
    var readout = converted.outputs[0]
    if let last = converted.node(readout), last.op == .softmax { readout = last.inputs[0] }
    var scales = [String: [Double]]()
    if normalization != .none, let calibration {
      scales = try Self.calibrate(converted, calibration, normalization, granularity)
    }
    var populations = [PopulationSpec]()
    for node in converted.nodes where !node.op.isAffine {
      if node.name == converted.outputs[0] && node.op == .softmax { continue }
      let target: NeuronTarget
      switch node.op {
      case .activation(let function): target = .unary(function)
      case .binary(let function): target = .binary(function)
      case .pool2d, .layerNorm, .softmax:
        // Fused: the engine feeds each neuron the composite op applied to the input estimates.
        target = .unary(.identity)
      default: throw ConversionError.unsupportedOp(node: node.name, op: node.op.kind)
      }
      populations.append(
        PopulationSpec(
          node: node.name, target: target, dynamics: dynamics, schedule: schedule ?? dynamics.defaultSchedule,
          scales: scales[node.name] ?? [1]))
    }
    self.graph = converted
    self.populations = populations
    self.readout = readout
    self.normalization = calibration == nil ? .none : normalization
    self.granularity = normalization == .none || calibration == nil ? .layer : granularity
    self.calibrationImages = normalization == .none ? 0 : calibration?.shape.first ?? 0
  }

  /// λ for every non-affine node from the calibration images, run through the ANN in chunks of
  /// 100 so that memory stays O(chunk × neurons) for max normalization (a percentile needs every
  /// value of a node, which is kept).
  static func calibrate(
    _ graph: Graph, _ calibration: Tensor<Float>, _ normalization: Normalization, _ granularity: Granularity
  ) throws -> [String: [Double]] {
    let adapted = try graph.adaptInput(calibration)
    let nodes = graph.nodes.filter { !$0.op.isAffine && $0.name != graph.outputs[0] }
    func width(_ node: Node) -> Int {
      switch granularity {
      case .layer: return 1
      case .channel: return node.shape.last ?? 1
      case .neuron: return node.shape.reduce(1, *)
      }
    }
    var maxima = [String: [Float]]()
    var samples = [String: [Float]]()
    let count = adapted.shape[0]
    for start in stride(from: 0, to: count, by: 100) {
      let values = graph.activations([adapted.rows(start..<min(start + 100, count))])
      for node in nodes {
        let scalars = values[node.name]!.scalars
        if normalization == .max {
          let groups = width(node)
          var largest = maxima[node.name] ?? [Float](repeating: 0, count: groups)
          for (i, value) in scalars.enumerated() {
            largest[i % groups] = Swift.max(largest[i % groups], abs(value))
          }
          maxima[node.name] = largest
        } else {
          samples[node.name, default: []].append(contentsOf: scalars)
        }
      }
    }
    var scales = [String: [Double]]()
    for node in nodes {
      scales[node.name] =
        normalization == .max
        ? maxima[node.name]!.map { Swift.max(Double($0), 1e-6) }
        : Self.scales(samples[node.name]!, width: width(node), normalization)
    }
    return scales
  }

  /// λ per group of values: `values` is `[…, width]` row-major and position `j` of every row
  /// forms group `j` (width 1: one group of all values).
  static func scales(_ values: [Float], width: Int, _ normalization: Normalization) -> [Double] {
    guard width > 1 else { return [scale(values, normalization)] }
    var groups = [[Float]](repeating: [], count: width)
    for (i, value) in values.enumerated() { groups[i % width].append(value) }
    return groups.map { scale($0, normalization) }
  }

  /// Whether composite layers run as fused populations (their op is still in the graph).
  public var isFused: Bool {
    graph.nodes.contains { node in
      switch node.op {
      case .pool2d(let a): return a.mode == .max
      case .layerNorm: return true
      case .softmax: return !graph.outputs.contains(node.name)
      default: return false
      }
    }
  }

  /// λ from recorded activations: the maximum or a percentile of their magnitudes (so signed
  /// outputs such as GELU's or LayerNorm's are covered on both sides), at least a tiny positive
  /// number so that an all-zero layer keeps a valid scale.
  static func scale(_ values: [Float], _ normalization: Normalization) -> Double {
    switch normalization {
    case .none: return 1
    case .max: return Swift.max(Double(values.lazy.map { abs($0) }.max() ?? 1), 1e-6)
    case .percentile(let p):
      let positive = values.lazy.map { abs($0) }.filter { $0 > 0 }.sorted()
      guard !positive.isEmpty else { return 1e-6 }
      let rank = Int((p / 100 * Double(positive.count - 1)).rounded())
      return Swift.max(Double(positive[Swift.min(rank, positive.count - 1)]), 1e-6)
    }
  }
}
