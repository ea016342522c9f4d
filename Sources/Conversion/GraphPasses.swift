import Graph
import Tensor

/// Rewrites of a trained graph that keep its inference function and make conversion simpler.
public enum GraphPasses {
  /// Removes Dropout nodes (the identity at inference), rewiring their readers.
  public static func removeDropout(_ graph: Graph) throws -> Graph {
    try bypass(graph) { if case .dropout = $0.op { true } else { false } }
  }

  /// Replaces each Conv2DTranspose by the ordinary convolution it equals
  /// (``ConvolutionTranspose``): `name/spread` (zeros between pixels), `name/padded` (zero
  /// padding) and the convolution `name` with the turned kernel, which keeps the name, so readers
  /// are unchanged and a BatchNorm after it folds into it. Every op of the result simulates as
  /// the network's other convolutions and selections do.
  public static func expandTransposedConvolutions(_ graph: Graph) throws -> Graph {
    var nodes = [Node]()
    for node in graph.nodes {
      guard case .conv2dTranspose(let a) = node.op, let input = graph.node(node.inputs[0]) else {
        nodes.append(node)
        continue
      }
      let steps = ConvolutionTranspose.inputOps(a, height: input.shape[0], width: input.shape[1])
      let spread = Node(name: "\(node.name)/spread", op: steps[0], inputs: node.inputs)
      let padded = Node(name: "\(node.name)/padded", op: steps[1], inputs: [spread.name])
      var parameters = node.parameters
      parameters["kernel"] = ConvolutionTranspose.convolutionKernel(node.parameters["kernel"]!)
      let convolution = Node(
        name: node.name, op: .conv2d(ConvolutionTranspose.convolution(a)), inputs: [padded.name],
        parameters: parameters)
      nodes += [spread, padded, convolution]
    }
    return try Graph(name: graph.name, nodes: nodes, outputs: graph.outputs)
  }

  /// Folds each BatchNorm that is the only reader of a Dense or Conv2D node into that node:
  /// `W' = W·γ/σ`, `b' = β + (b − μ)·γ/σ` with `σ = sqrt(var + ε)` (per output channel).
  /// Other BatchNorms stay (they are affine and simulate as such).
  public static func foldBatchNorm(_ graph: Graph) throws -> Graph {
    var nodes = graph.nodes
    var folded = Set<String>()
    for node in graph.nodes {
      guard case .batchNorm(let epsilon, _, _) = node.op, let sourceName = node.inputs.first,
        let sourceIndex = nodes.firstIndex(where: { $0.name == sourceName }),
        graph.nodes.filter({ $0.inputs.contains(sourceName) }).count == 1, !graph.outputs.contains(sourceName)
      else { continue }
      var source = nodes[sourceIndex]
      let channels = node.parameters["moving_mean"]!.count
      let mean = node.parameters["moving_mean"]!.scalars
      let beta = node.parameters["beta"]?.scalars ?? [Float](repeating: 0, count: channels)
      let factor = BatchNormalization.channelAffine(epsilon: epsilon, parameters: node.parameters).scale
      switch source.op {
      case .dense(let units, _):
        source.op = .dense(units: units, useBias: true)
      case .conv2d(var attributes):
        attributes.useBias = true
        source.op = .conv2d(attributes)
      default:
        continue
      }
      let kernel = source.parameters["kernel"]!
      source.parameters["kernel"] = kernel.affinePerChannel(
        scale: factor, shift: [Float](repeating: 0, count: channels))
      let bias = source.parameters["bias"]?.scalars ?? [Float](repeating: 0, count: channels)
      source.parameters["bias"] = Tensor(
        shape: [channels], scalars: (0..<channels).map { beta[$0] + (bias[$0] - mean[$0]) * factor[$0] })
      nodes[sourceIndex] = source
      folded.insert(node.name)
    }
    let reduced = try Graph(name: graph.name, nodes: nodes, outputs: graph.outputs)
    return try bypass(reduced) { folded.contains($0.name) }
  }

  /// Folds each constant per-channel affine map `x·s + t` (Keras's Rescaling and Normalization,
  /// a ``Op/scaleShift(scale:shift:)``) into the Dense or Conv2D that is its only reader, where
  /// that is exact: `W'[…, c, f] = W[…, c, f]·s_c` and `b'_f = b_f + Σ_{…, c} W[…, c, f]·t_c`.
  /// Exact for a Dense and for a convolution without padding; a padded convolution takes only a
  /// map without shift, since its padding zeros were never shifted — and so does a layer behind
  /// zero padding or cropping, which a scale alone passes through. Other maps stay (they are
  /// affine and simulate as such).
  public static func foldConstantAffine(_ graph: Graph) throws -> Graph {
    var nodes = graph.nodes
    var folded = Set<String>()
    for node in graph.nodes {
      guard case .scaleShift = node.op, !graph.outputs.contains(node.name) else { continue }
      let channels = node.shape.last ?? 0
      let scale = node.parameters["gamma"]?.scalars ?? [Float](repeating: 1, count: channels)
      let shift = node.parameters["beta"]?.scalars ?? [Float](repeating: 0, count: channels)
      let shifted = shift.contains { $0 != 0 }
      func onlyReader(of name: String) -> Int? {
        let readers = graph.nodes.indices.filter { graph.nodes[$0].inputs.contains(name) }
        guard readers.count == 1, graph.nodes[readers[0]].inputs == [name], !graph.outputs.contains(name)
        else {
          return nil
        }
        return readers[0]
      }
      // A scale alone commutes with zero padding and cropping (channels stay where they are): it
      // may fold into the layer after them.
      var last = node.name
      while !shifted, let next = onlyReader(of: last), graph.nodes[next].op.isPaddingOrCropping {
        last = graph.nodes[next].name
      }
      guard let readerIndex = onlyReader(of: last) else { continue }
      var reader = nodes[readerIndex]
      guard let kernel = reader.parameters["kernel"] else { continue }  // neither Dense nor Conv2D
      let filters = kernel.shape.last!
      // The input channel each kernel row reads, by the row's position in the kernel's
      // channel axis and the filter (a grouped convolution's filters read their group only).
      let channelOf: (Int, Int) -> Int
      switch reader.op {
      case .dense(let units, _):
        reader.op = .dense(units: units, useBias: true)
        channelOf = { row, _ in row }
      case .conv2d(var a) where a.padding == .valid || !shifted:
        let window = a.window(input: graph.node(last)!.shape)
        guard !shifted || (window?.padTop == 0 && window?.padLeft == 0) else { continue }
        a.useBias = true
        reader.op = .conv2d(a)
        let groupChannels = channels / a.groups
        let groupFilters = filters / a.groups
        channelOf = { row, filter in (filter / groupFilters) * groupChannels + row }
      default:
        continue
      }
      let rows = kernel.shape[kernel.rank - 2]
      var weights = kernel.scalars
      var bias = reader.parameters["bias"]?.scalars ?? [Float](repeating: 0, count: filters)
      for (position, weight) in kernel.scalars.enumerated() {
        let filter = position % filters
        let channel = channelOf((position / filters) % rows, filter)
        weights[position] = weight * scale[channel]
        bias[filter] += weight * shift[channel]
      }
      reader.parameters["kernel"] = Tensor(shape: kernel.shape, scalars: weights)
      reader.parameters["bias"] = Tensor(shape: [filters], scalars: bias)
      nodes[readerIndex] = reader
      folded.insert(node.name)
    }
    let reduced = try Graph(name: graph.name, nodes: nodes, outputs: graph.outputs)
    return try bypass(reduced) { folded.contains($0.name) }
  }

  /// Replaces every max pooling, LayerNorm and softmax (except a softmax that is an output:
  /// the readout handles it) by affine ops and elementwise one- and two-input functions
  /// (docs/dynamics.md, "Targets"), keeping the function the graph computes:
  ///
  /// - max pooling k×k: the k² window elements (affine selections), combined by a balanced tree
  ///   of two-input `max` nodes;
  /// - LayerNorm: `x − mean` → `square` → `mean` → `x₁/sqrt(x₂ + ε)` → `γ·x + β`;
  /// - softmax: the row maximum by rounds of two-input `max` neurons over rotations of the row
  ///   (``shiftedSoftmax(_:width:)``), `x − max` (affine) → `exp` → `sum` → `x₁/x₂`.
  ///
  /// The node that produces the result keeps the original name, so readers are unchanged; the
  /// steps are named `original/step`.
  public static func decompose(_ graph: Graph) throws -> Graph {
    var nodes = [Node]()
    for node in graph.nodes {
      switch node.op {
      case .pool2d(let a) where a.mode == .max:
        nodes += maxPoolTree(node, a)
      case .layerNorm(let epsilon, let center, let scale):
        let name = node.name
        let x = node.inputs[0]
        let centred = Node(name: "\(name)/centred", op: .lastAxis(.deviation), inputs: [x])
        let square = Node(name: "\(name)/square", op: .activation(.square), inputs: [centred.name])
        let variance = Node(name: "\(name)/variance", op: .lastAxis(.mean), inputs: [square.name])
        let hasTail = center || scale
        let normalized = Node(
          name: hasTail ? "\(name)/normalized" : name, op: .binary(.normalize(epsilon: epsilon)),
          inputs: [centred.name, variance.name])
        nodes += [centred, square, variance, normalized]
        if hasTail {
          nodes.append(
            Node(
              name: name, op: .scaleShift(scale: scale, shift: center), inputs: [normalized.name],
              parameters: node.parameters))
        }
      case .softmax where !graph.outputs.contains(node.name):
        nodes += shiftedSoftmax(node, width: graph.node(node.inputs[0])?.shape.last ?? 1)
      default:
        nodes.append(node)
      }
    }
    return try Graph(name: graph.name, nodes: nodes, outputs: graph.outputs)
  }

  /// A softmax over rows of `width` as `exp(x − m) / Σ exp(x − m)`, with `m` the row's maximum
  /// found by two-input max neurons: round `k` takes the max of the previous round and its
  /// rotation by `2^(k−1)` along the row, so after `⌈log₂ width⌉` rounds every position holds the
  /// maximum of the whole row; their mean (affine) gives one shift per row, which keeps every
  /// `exp` input at or below about 0 whatever the logits' offset — so its scale stays near 1
  /// instead of `exp` of the largest logit the calibration saw.
  static func shiftedSoftmax(_ node: Node, width: Int) -> [Node] {
    let name = node.name
    let x = node.inputs[0]
    var nodes = [Node]()
    var running = x
    var span = 1
    var round = 1
    while span < width {
      let rotated = Node(
        name: "\(name)/rotate\(round)", op: .lastAxisRotation(shift: span), inputs: [running])
      let maximum = Node(name: "\(name)/max\(round)", op: .binary(.maximum), inputs: [running, rotated.name])
      nodes += [rotated, maximum]
      running = maximum.name
      span *= 2
      round += 1
    }
    let shift = Node(name: "\(name)/row_max", op: .lastAxis(.mean), inputs: [running])
    let shifted = Node(name: "\(name)/shifted", op: .binary(.subtract), inputs: [x, shift.name])
    let exp = Node(name: "\(name)/exp", op: .activation(.exp), inputs: [shifted.name])
    let sum = Node(name: "\(name)/sum", op: .lastAxis(.sum), inputs: [exp.name])
    return nodes + [
      shift, shifted, exp, sum, Node(name: name, op: .binary(.division), inputs: [exp.name, sum.name]),
    ]
  }

  /// The window elements of a max pooling and a balanced tree of two-input max nodes over them,
  /// the last named as the pooling node.
  static func maxPoolTree(_ node: Node, _ a: Pool2DAttributes) -> [Node] {
    var nodes = [Node]()
    var level = [String]()
    for row in 0..<a.size[0] {
      for column in 0..<a.size[1] {
        let name = a.size == [1, 1] ? node.name : "\(node.name)/w\(row)_\(column)"
        nodes.append(Node(name: name, op: .windowElement(a, row: row, column: column), inputs: node.inputs))
        level.append(name)
      }
    }
    var depth = 1
    while level.count > 1 {
      var next = [String]()
      for pair in stride(from: 0, to: level.count - 1, by: 2) {
        let name = level.count == 2 ? node.name : "\(node.name)/max\(depth)_\(pair / 2)"
        nodes.append(Node(name: name, op: .binary(.maximum), inputs: [level[pair], level[pair + 1]]))
        next.append(name)
      }
      if level.count % 2 == 1 { next.append(level.last!) }
      level = next
      depth += 1
    }
    return nodes
  }

  /// Rewrites every two-input maximum as `max(a, b) = a + ReLU(b − a)`: an affine difference,
  /// a ReLU node and an affine sum, named `m/difference`, `m/relu` and `m` — the same function,
  /// computed by the only nonlinearity an integrate-and-fire membrane has. A neuron that
  /// integrates `b − a` from spikes sends, over T steps, about `max(0, Σb − Σa)` of charge, so
  /// `a` plus its spikes carry `max(Σa, Σb)`.
  public static func maximaAsReLU(_ graph: Graph) throws -> Graph {
    var nodes = [Node]()
    for node in graph.nodes {
      guard node.op == .binary(.maximum) else {
        nodes.append(node)
        continue
      }
      let (a, b) = (node.inputs[0], node.inputs[1])
      let difference = Node(name: "\(node.name)/difference", op: .binary(.subtract), inputs: [b, a])
      let relu = Node(name: "\(node.name)/relu", op: .activation(.relu), inputs: [difference.name])
      nodes += [difference, relu, Node(name: node.name, op: .add, inputs: [a, relu.name])]
    }
    return try Graph(name: graph.name, nodes: nodes, outputs: graph.outputs)
  }

  /// Drops the single-input nodes `remove` selects, pointing their readers (and outputs) at
  /// their input.
  static func bypass(_ graph: Graph, _ remove: (Node) -> Bool) throws -> Graph {
    var replacement = [String: String]()
    for node in graph.nodes where remove(node) {
      replacement[node.name] = replacement[node.inputs[0]] ?? node.inputs[0]
    }
    guard !replacement.isEmpty else { return graph }
    let nodes = graph.nodes.filter { replacement[$0.name] == nil }.map { node -> Node in
      var copy = node
      copy.inputs = node.inputs.map { replacement[$0] ?? $0 }
      return copy
    }
    return try Graph(name: graph.name, nodes: nodes, outputs: graph.outputs.map { replacement[$0] ?? $0 })
  }
}

extension Op {
  fileprivate var isPaddingOrCropping: Bool {
    switch self {
    case .zeroPad2d, .crop2d: return true
    default: return false
    }
  }
}
