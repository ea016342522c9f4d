import Graph

/// A NIR graph (Neuromorphic Intermediate Representation) made ready to run: nodes in
/// topological order, every parameter checked and expanded to the shape it acts on, every
/// node's shape inferred (docs/nir.md, "Running NIR graphs").
///
/// Built from the raw nodes and edges a file holds (``RawNode``), so that reading HDF5 and
/// understanding the graph stay apart; every refusal is an ``NIRGraphError`` naming the node,
/// and the parameter where one is at fault.
public struct NIRGraph: Sendable {
  /// A parameter as stored: numbers with their shape (`[]` for a scalar), or a string.
  public enum Value: Sendable, Equatable {
    case numbers(shape: [Int], values: [Double])
    case string(String)
  }

  /// A node as the file holds it.
  public struct RawNode: Sendable {
    public let name: String
    public let type: String
    public let parameters: [String: Value]
    /// Metadata entries that are strings.
    public let metadata: [String: String]

    public init(name: String, type: String, parameters: [String: Value], metadata: [String: String] = [:]) {
      self.name = name
      self.type = type
      self.parameters = parameters
      self.metadata = metadata
    }
  }

  /// A 2-D convolution in PyTorch's channel-first layout.
  public struct Convolution: Sendable {
    /// `outChannels × (inChannels/groups) × kernelHeight × kernelWidth`.
    public let weight: [Float]
    public let bias: [Float]
    public let inChannels: Int, outChannels: Int, groups: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let strideHeight: Int, strideWidth: Int
    public let dilationHeight: Int, dilationWidth: Int
    /// Zero rows above / columns left of the input (PyTorch's `same` puts any odd remainder
    /// after, below and right).
    public let padTop: Int, padLeft: Int
    public let inputHeight: Int, inputWidth: Int
    public let outputHeight: Int, outputWidth: Int
    /// When every output channel's kernel reads one input channel only (the others all zero),
    /// that channel and the kernel's non-zero taps for each output channel: such a convolution
    /// (the one-hot window selections of an exported max pooling, say) runs channel by channel
    /// and tap by tap instead of as a product over every input channel, with the same sums.
    public let depthwise: [ChannelTaps]?
  }

  /// The one input channel an output channel of a convolution reads, and its kernel's non-zero
  /// weights in kernel order.
  public struct ChannelTaps: Sendable {
    public let channel: Int
    public let taps: [(row: Int, column: Int, weight: Float)]
  }

  /// Sum or average pooling in the channel-first layout; an average divides by the whole
  /// window, padding included (PyTorch's default).
  public struct Pooling: Sendable {
    public let channels: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let strideHeight: Int, strideWidth: Int
    public let padTop: Int, padLeft: Int
    public let inputHeight: Int, inputWidth: Int
    public let outputHeight: Int, outputWidth: Int
    public let average: Bool
  }

  /// The neuron models, with their discrete-time updates (docs/nir.md).
  public enum NeuronModel: String, Sendable, CaseIterable {
    case integrateAndFire = "IF"
    case leakyIntegrateAndFire = "LIF"
    case leakyIntegrator = "LI"
    case integrator = "I"
    case currentBasedLIF = "CubaLIF"
    case currentBasedLI = "CubaLI"

    /// Whether the model fires spikes (otherwise its output is its membrane).
    public var spikes: Bool { [.integrateAndFire, .leakyIntegrateAndFire, .currentBasedLIF].contains(self) }
  }

  /// A population of neurons, its parameters made ready for steps of length `dt` (docs/nir.md,
  /// "The discrete-time semantics"); every array holds one value per neuron (the node's element
  /// count).
  public struct Neurons: Sendable {
    /// The update run: the node's own model, except that an LIF or LI whose `τ` is ∞ (no leak,
    /// `β = 1`) runs as IF or I.
    public let model: NeuronModel
    /// The input's factor in one step: `dt·r` for IF and I (1 for a leak-free LIF or LI, whose
    /// `r = τ/dt` makes `dt·r/τ = 1`); `r` for the others, whose update divides by ``tau``.
    public let r: [Float]
    /// The membrane time constant in steps, `τ/dt` (LIF, LI, CubaLIF, CubaLI).
    public let tau: [Float]?
    /// The synaptic time constant in steps, `τ_syn/dt`, and the input weight (CubaLIF, CubaLI).
    public let tauSynapse: [Float]?
    /// (1 where the file leaves `w_in` out.)
    public let inputWeight: [Float]?
    public let vLeak: [Float]?
    public let vThreshold: [Float]?
    /// (0 where the file leaves `v_reset` out.)
    public let vReset: [Float]?
    /// `metadata/reset_mode = "subtract"`: reset by subtracting the threshold, as this
    /// toolkit's own export marks what NIR cannot say.
    public let resetBySubtraction: Bool
    /// `metadata/initial_membrane`: where the membranes start, in the graph's units (one value,
    /// one per channel — the first dimension of the node's shape — or one per neuron), as this
    /// toolkit's own export writes a start NIR cannot say; nil (every membrane at 0) without it.
    public let initialMembrane: [Float]?
    /// CubaLIF and CubaLI with `τ_syn = ∞` (and `w_in = ∞`): the current adds its input, `i ← i + I`.
    public let synapseIntegrates: Bool
    /// CubaLIF and CubaLI with `τ_mem = ∞` (and `r = ∞`): the membrane adds the current, `v ← v + i`.
    public let membraneIntegrates: Bool
  }

  public enum Operation: Sendable {
    case input
    case output
    /// Identity and Flatten: the values pass unchanged (the shape is relabelled).
    case pass
    /// `W·x + b` over the last `inputs` values (all of them when the node's input holds exactly
    /// `inputs` values); `weight` is `outputs × inputs`.
    case affine(weight: [Float], bias: [Float]?, inputs: Int, outputs: Int)
    /// One factor per element of the node's shape.
    case scale([Float])
    case convolution(Convolution)
    case pooling(Pooling)
    case neurons(Neurons)
    /// A spike where the input exceeds the threshold (one per element).
    case threshold([Float])
  }

  public struct Node: Sendable {
    public let name: String
    /// The NIR type, as stored (`IF`, `Conv2d`, …).
    public let type: String
    public let operation: Operation
    /// The node's output shape, channel-first, without a batch dimension.
    public let shape: [Int]
    /// Positions in ``NIRGraph/nodes`` of the nodes whose outputs add up to this node's input.
    /// A source at or after the node's own position closes a cycle (a recurrent edge): it
    /// brings that node's output of the previous step, 0 at the first (docs/nir.md).
    public let sources: [Int]

    public var count: Int { shape.reduce(1, *) }
  }

  public let nodes: [Node]
  /// The length of a step in the graph's time unit (`τ` is in the same unit).
  public let dt: Double
  /// Where the step is too long for the time constants (`dt/τ > 1`, which forward Euler turns
  /// into an overshooting membrane): one sentence per node, naming it.
  public let warnings: [String]
  /// Positions of the Input and the Output node.
  public let input: Int
  public let output: Int

  /// The Input node's shape: what one image must fill.
  public var inputShape: [Int] { nodes[input].shape }
  /// How many values the readout has (the Output node's input).
  public var readoutWidth: Int { nodes[output].count }

  /// The node types this toolkit runs.
  public static let supportedTypes = [
    "Input", "Output", "Affine", "Linear", "Scale", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Identity",
    "IF", "LIF", "LI", "I", "CubaLIF", "CubaLI", "Threshold",
  ]

  /// Checks and prepares a graph.
  /// - Parameters:
  ///   - nodes: every node, named uniquely.
  ///   - edges: (source, target) pairs of node names.
  ///   - dt: the step, in the unit of the graph's time constants (positive and finite).
  /// - Throws: ``NIRGraphError`` naming the node (and parameter) at fault: an unknown type or
  ///   parameter, a missing or non-finite parameter, shapes that do not fit, not exactly one
  ///   Input and one Output, a node without input or fed only by a cycle nothing else feeds.
  public init(nodes raw: [RawNode], edges: [(String, String)], dt: Double = 1) throws {
    guard dt.isFinite, dt > 0 else {
      throw NIRGraphError(node: nil, "the step dt must be positive and finite, got \(dt)")
    }
    var position = [String: Int]()
    for (k, node) in raw.enumerated() {
      guard position.updateValue(k, forKey: node.name) == nil else {
        throw NIRGraphError(node: node.name, "two nodes have this name")
      }
    }
    var incoming = [[Int]](repeating: [], count: raw.count)
    for (source, target) in edges {
      guard let s = position[source] else {
        throw NIRGraphError(node: nil, "edge \(source) → \(target): no node '\(source)'")
      }
      guard let t = position[target] else {
        throw NIRGraphError(node: nil, "edge \(source) → \(target): no node '\(target)'")
      }
      incoming[t].append(s)
    }
    let inputs = raw.indices.filter { raw[$0].type == "Input" }
    let outputs = raw.indices.filter { raw[$0].type == "Output" }
    guard inputs.count == 1 else {
      throw NIRGraphError(
        node: nil, "the graph has \(inputs.count) Input nodes; this toolkit runs graphs with exactly one")
    }
    guard outputs.count == 1 else {
      throw NIRGraphError(
        node: nil, "the graph has \(outputs.count) Output nodes; this toolkit runs graphs with exactly one")
    }
    let order = Self.executionOrder(raw, incoming: incoming)
    var newPosition = [Int](repeating: 0, count: raw.count)
    for (k, old) in order.enumerated() { newPosition[old] = k }
    let built = try Self.built(
      raw, order: order, sources: order.map { incoming[$0].map { newPosition[$0] } }, dt: dt)
    self.nodes = built
    self.dt = dt
    self.warnings = built.compactMap { Self.stepWarning($0, dt: dt) }
    self.input = newPosition[inputs[0]]
    self.output = newPosition[outputs[0]]
  }

  static func text(_ shape: [Int]) -> String {
    shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "×")
  }

  // MARK: - Preparing one node

  /// The parameters every type may have: the ones it needs, then optional ones.
  private static let parameterNames: [String: (required: [String], optional: [String])] = [
    "Input": (["shape"], []),
    "Output": ([], ["shape"]),
    "Identity": ([], ["shape"]),
    "Affine": (["weight", "bias"], []),
    "Linear": (["weight"], []),
    "Scale": (["scale"], []),
    "Flatten": (["start_dim", "end_dim"], ["input_type"]),
    "Conv2d": (["weight", "bias", "stride", "padding", "dilation", "groups"], ["input_shape"]),
    "SumPool2d": (["kernel_size", "stride", "padding"], []),
    "AvgPool2d": (["kernel_size", "stride", "padding"], []),
    "IF": (["r", "v_threshold"], ["v_reset"]),
    "LIF": (["tau", "r", "v_leak", "v_threshold"], ["v_reset"]),
    "LI": (["tau", "r", "v_leak"], []),
    "I": (["r"], []),
    "CubaLIF": (["tau_mem", "tau_syn", "r", "v_leak", "v_threshold"], ["v_reset", "w_in"]),
    "CubaLI": (["tau_mem", "tau_syn", "r", "v_leak"], ["w_in"]),
    "Threshold": (["threshold"], []),
  ]

  static func prepare(_ node: RawNode, input: [Int]?, dt: Double) throws -> (Operation, [Int]) {
    guard let names = parameterNames[node.type] else {
      throw NIRGraphError(
        node: node.name,
        "node type \(node.type) is not supported; supported: \(supportedTypes.joined(separator: ", "))")
    }
    for name in node.parameters.keys.sorted()
    where !names.required.contains(name) && !names.optional.contains(name) {
      throw NIRGraphError(node: node.name, "\(node.type) has no parameter '\(name)'")
    }
    for name in names.required where node.parameters[name] == nil {
      throw NIRGraphError(node: node.name, "\(node.type) needs the parameter '\(name)'")
    }
    let p = NIRParameters(node: node)
    let input = input ?? []
    let count = input.reduce(1, *)
    switch node.type {
    case "Input":
      var shape = try p.integers("shape")
      // A leading batch dimension of 1 before an image's C×H×W.
      if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
      guard !shape.isEmpty, Graph.elementCount(shape) != nil else {
        throw NIRGraphError(node: node.name, "'shape' \(text(shape)) is not a shape one image can fill")
      }
      return (.input, shape)
    case "Output", "Identity":
      if let shape = try p.optionalIntegers("shape"), !shape.isEmpty, shape.reduce(1, *) != count {
        throw NIRGraphError(
          node: node.name,
          "'shape' \(text(shape)) holds \(shape.reduce(1, *)) values, its input \(text(input)) \(count)")
      }
      return (node.type == "Output" ? .output : .pass, input)
    case "Affine", "Linear":
      let (wShape, weight) = try p.floats("weight")
      guard wShape.count == 2 else {
        throw NIRGraphError(node: node.name, "'weight' must be outputs × inputs, got \(text(wShape))")
      }
      let (outputs, inputs) = (wShape[0], wShape[1])
      var bias: [Float]?
      if node.type == "Affine" {
        let (bShape, values) = try p.floats("bias")
        guard values.count == outputs, bShape.count <= 1 else {
          throw NIRGraphError(node: node.name, "'bias' must hold \(outputs) values, got \(text(bShape))")
        }
        bias = values
      }
      let shape: [Int]
      if count == inputs {
        shape = [outputs]
      } else if input.last == inputs {
        shape = input.dropLast() + [outputs]
      } else {
        throw NIRGraphError(
          node: node.name,
          "'weight' \(text(wShape)) takes \(inputs) inputs; the node's input is \(text(input))")
      }
      return (.affine(weight: weight, bias: bias, inputs: inputs, outputs: outputs), shape)
    case "Scale":
      return (.scale(try p.expanded("scale", to: input)), input)
    case "Threshold":
      return (.threshold(try p.expanded("threshold", to: input)), input)
    case "Flatten":
      return (.pass, try flattened(node, p, input: input))
    case "Conv2d":
      return try convolution(node, p, input: input)
    case "SumPool2d", "AvgPool2d":
      return try pooling(node, p, input: input)
    default:
      return (.neurons(try neurons(node, p, input: input, dt: dt)), input)
    }
  }

  /// A neuron node's parameters for steps of `dt`. Time constants may be ∞ (no leak), which the
  /// frameworks write for `β = 1` together with `r = τ/dt = ∞` (and `w_in = τ_syn/dt = ∞`): the
  /// input's factor `dt·r/τ` is then 1. A node's time constants are all finite or all ∞.
  private static func neurons(_ node: RawNode, _ p: NIRParameters, input: [Int], dt: Double) throws -> Neurons
  {
    let declared = NeuronModel(rawValue: node.type)!
    let count = input.reduce(1, *)
    let current = [.currentBasedLIF, .currentBasedLI].contains(declared)
    let leaky = declared != .integrateAndFire && declared != .integrator
    func optional(_ name: String, infinite: Bool = false) throws -> [Float]? {
      node.parameters[name] == nil ? nil : try p.expanded(name, to: input, allowingInfinity: infinite)
    }
    /// A time constant and the factor paired with it (`r`, `w_in`): both finite, or both ∞.
    func timeConstant(_ tauName: String, _ factorName: String, _ factor: [Float]) throws -> (
      steps: [Float], integrates: Bool
    ) {
      let tau = try p.expanded(tauName, to: input, allowingInfinity: true)
      if let bad = tau.first(where: { !($0 > 0) }) {
        throw NIRGraphError(node: node.name, "'\(tauName)' must be positive, got \(bad)")
      }
      let infinite = tau.filter(\.isInfinite).count
      if infinite == 0 {
        if factor.contains(where: \.isInfinite) {
          throw NIRGraphError(node: node.name, "'\(factorName)' is ∞ where '\(tauName)' is finite")
        }
        return (tau.map { Float(Double($0) / dt) }, false)
      }
      guard infinite == tau.count else {
        throw NIRGraphError(
          node: node.name,
          "'\(tauName)' is ∞ for some neurons and finite for others; a node's must be one or the other")
      }
      guard factor.allSatisfy(\.isInfinite) else {
        throw NIRGraphError(
          node: node.name,
          "'\(tauName)' is ∞ (no leak) but '\(factorName)' is finite, so no input would reach the state (\(factorName)/\(tauName) = 0); a neuron without leak has \(factorName) = \(tauName)/dt = ∞ too"
        )
      }
      return ([Float](repeating: .infinity, count: count), true)
    }
    var model = declared
    var r = try p.expanded("r", to: input, allowingInfinity: leaky)
    var tau: [Float]? = nil
    var tauSynapse: [Float]? = nil
    var inputWeight: [Float]? = nil
    var synapseIntegrates = false
    var membraneIntegrates = false
    if leaky {
      let membrane = try timeConstant(current ? "tau_mem" : "tau", "r", r)
      tau = membrane.steps
      if membrane.integrates { r = [Float](repeating: 1, count: count) }
      if current {
        membraneIntegrates = membrane.integrates
        let weight = try optional("w_in", infinite: true) ?? [Float](repeating: 1, count: count)
        let synapse = try timeConstant("tau_syn", "w_in", weight)
        tauSynapse = synapse.steps
        synapseIntegrates = synapse.integrates
        inputWeight = synapse.integrates ? [Float](repeating: 1, count: count) : weight
      } else if membrane.integrates {
        // No leak: v ← v + I, an IF (or I) with a factor of 1.
        model = declared == .leakyIntegrateAndFire ? .integrateAndFire : .integrator
        tau = nil
      }
    } else {
      r = r.map { Float(Double($0) * dt) }
    }
    let resetMode = node.metadata["reset_mode"]
    if let resetMode, !["subtract", "zero", "value"].contains(resetMode) {
      throw NIRGraphError(
        node: node.name, "metadata reset_mode = \"\(resetMode)\" is not one of subtract, zero, value")
    }
    var initialMembrane: [Float]?
    if let text = node.metadata["initial_membrane"], model.spikes {
      let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
      let channels = count / max(1, input.dropFirst().reduce(1, *))
      guard !values.isEmpty, values.allSatisfy({ $0?.isFinite ?? false }),
        [1, channels, count].contains(values.count)
      else {
        throw NIRGraphError(
          node: node.name,
          "metadata initial_membrane = \"\(text.prefix(80))\" is not one number, one per channel (\(channels)) or one per neuron (\(count)), separated by commas"
        )
      }
      initialMembrane = values.map { $0! }
    }
    return Neurons(
      model: model, r: r, tau: tau, tauSynapse: tauSynapse, inputWeight: inputWeight,
      vLeak: try optional("v_leak"),
      vThreshold: try optional("v_threshold"),
      vReset: try optional("v_reset") ?? (model.spikes ? [Float](repeating: 0, count: count) : nil),
      resetBySubtraction: model.spikes && resetMode == "subtract", initialMembrane: initialMembrane,
      synapseIntegrates: synapseIntegrates,
      membraneIntegrates: membraneIntegrates)
  }

  /// A sentence naming `node` when a step of `dt` is longer than one of its time constants.
  private static func stepWarning(_ node: Node, dt: Double) -> String? {
    guard case .neurons(let neurons) = node.operation else { return nil }
    let steps = (neurons.tau ?? []) + (neurons.tauSynapse ?? [])
    guard let shortest = steps.min(), shortest < 1 else { return nil }
    let tau = Double(shortest) * dt
    return
      "node '\(node.name)' (\(node.type)): dt/τ = \(format(dt / tau)) > 1 (τ = \(format(tau)), dt = \(format(dt))): forward Euler overshoots at such a step, which is not what the graph's writer simulated; see the dt its time constants suggest (snnconv inspect) and run with --dt"
  }

  /// A number in a short form for messages (`0.0001`, `1e+03`).
  static func format(_ value: Double) -> String { String(format: "%g", value) }
}

public struct NIRGraphError: Error, Equatable, Sendable, CustomStringConvertible {
  public let node: String?
  public let detail: String

  public init(node: String?, _ detail: String) {
    self.node = node
    self.detail = detail
  }

  public var description: String { node.map { "node '\($0)': \(detail)" } ?? detail }
}
