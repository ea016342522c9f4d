import Spiking

/// The portable form of an exported NIR graph (docs/nir.md, "The portable form"): the same
/// network with every factor that other frameworks cannot read moved into the weights around it.
///
/// The exact form gives each population an `IF` (or `LIF`) node with `r = 1/λ` (`τ/λ`), one value
/// per neuron, and a `Scale` node of λ after it; differences go through a `Scale` of −1. Other
/// frameworks import neither: their IF and LIF neurons take one `r` for the whole node, and none
/// of their importers knows `Scale`. Here each of those factors becomes a factor on an edge, and
/// each edge's factor is then absorbed, in this order of preference:
///
/// 1. into the columns of the Affine, Linear or Conv2d node the edge leads to, when all of that
///    node's inputs carry the same factor (per channel for a convolution);
/// 2. into the rows and bias of the Affine, Linear or Conv2d node the edge comes from, when the
///    edge is that node's only one;
/// 3. through a Flatten, Identity or pooling node (a factor per channel commutes with pooling),
///    onto the edges leaving it;
/// 4. otherwise into a node of its own that every importer reads: a 1×1 Conv2d with a diagonal
///    kernel for a factor per channel of an image, a diagonal Linear for a vector (up to
///    ``largestDiagonal`` values); only a factor that varies within a channel's image stays a
///    `Scale` node, with a warning.
///
/// The network computes the same values up to float rounding: `v + r·(W·s)` becomes
/// `v + (r·W·λ)·s`. Thresholds are written as the float just above 1 (``threshold``), so that
/// readers that fire at `v ≥ θ` and those that fire at `v > θ` agree.
struct NIRPortable {
  /// The largest vector a diagonal Linear node is written for (its weight holds n² values).
  static let largestDiagonal = 2048

  struct Edge {
    var source: String
    var target: String
    /// One factor per element of the source's output (channel-first); nil for none.
    var scale: [Float]?
  }

  private(set) var nodes: [NIRExport.NIRNode]
  private(set) var edges: [Edge]
  /// Every node's output shape, channel-first, as ``NIRGraph`` infers it.
  private var shapes: [String: [Int]]
  private(set) var warnings: [String] = []

  /// Rewrites the exact form (`nodes`, `edges`) into the portable one.
  /// - Throws: ``NIRGraphError`` when the exact form itself is not a graph that runs (a bug in the
  ///   export, reported rather than written).
  init(nodes: [NIRExport.NIRNode], edges: [(String, String)]) throws {
    let graph = try NIRGraph(nodes: nodes.map(\.raw), edges: edges)
    self.nodes = nodes
    self.edges = edges.map { Edge(source: $0.0, target: $0.1, scale: nil) }
    shapes = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.name, $0.shape) })
    moveNeuronFactorsOntoEdges()
    setThresholdsForEitherComparison()
    removeScaleNodes()
    absorbEdgeFactors()
    renameForImporters()
  }

  var edgePairs: [(String, String)] { edges.map { ($0.source, $0.target) } }

  private func index(of name: String) -> Int { nodes.firstIndex { $0.name == name }! }
  private func incoming(_ name: String) -> [Int] { edges.indices.filter { edges[$0].target == name } }
  private func outgoing(_ name: String) -> [Int] { edges.indices.filter { edges[$0].source == name } }

  /// `r` of every IF and LIF node onto the edges into it, leaving `r = 1`.
  private mutating func moveNeuronFactorsOntoEdges() {
    for k in nodes.indices where ["IF", "LIF"].contains(nodes[k].type) {
      guard let (r, shape) = nodes[k].floats("r"), r.contains(where: { $0 != 1 }) else { continue }
      for e in incoming(nodes[k].name) { edges[e].scale = Self.product(edges[e].scale, r) }
      nodes[k].setFloats("r", [Float](repeating: 1, count: r.count), shape: shape)
    }
  }

  /// The threshold NIR's IF and LIF compare with, written so that readers comparing `v > θ` (NIR,
  /// Norse, this toolkit) and `v ≥ θ` (SpikingJelly) fire at the same steps: for float32
  /// membranes `v > 1` is `v ≥ 1⁺`, with `1⁺ = 1 + 2⁻²³` the next float after 1. A threshold
  /// of exactly 1 would split the two wherever a membrane lands on 1 exactly, which the
  /// decomposed max pooling's neurons (inputs ±1 in units of their threshold) do all the time.
  /// For a `>` reader the change moves that tie to `v = 1⁺`, which sums of such inputs do not
  /// produce.
  static let threshold = Float(1).nextUp

  private mutating func setThresholdsForEitherComparison() {
    for k in nodes.indices where ["IF", "LIF"].contains(nodes[k].type) {
      guard let (values, shape) = nodes[k].floats("v_threshold"), values.allSatisfy({ $0 == 1 }) else {
        continue
      }
      nodes[k].setFloats("v_threshold", [Float](repeating: Self.threshold, count: values.count), shape: shape)
    }
  }

  /// Each Scale node replaced by edges from its sources to its targets carrying its factor.
  private mutating func removeScaleNodes() {
    while let k = nodes.firstIndex(where: { $0.type == "Scale" }) {
      let name = nodes[k].name
      let count = shapes[name]!.reduce(1, *)
      let (values, _) = nodes[k].floats("scale")!
      let factor = values.count == count ? values : [Float](repeating: values[0], count: count)
      let into = incoming(name).map { edges[$0] }
      let out = outgoing(name).map { edges[$0] }
      edges.removeAll { $0.source == name || $0.target == name }
      nodes.remove(at: k)
      for a in into {
        for b in out {
          let scale = Self.product(Self.product(a.scale, factor), b.scale)
          if let existing = edges.firstIndex(where: { $0.source == a.source && $0.target == b.target }) {
            // Two paths between the same nodes add up.
            let first = edges[existing].scale ?? [Float](repeating: 1, count: count)
            edges[existing].scale = zip(first, scale ?? [Float](repeating: 1, count: count)).map { $0 + $1 }
          } else {
            edges.append(Edge(source: a.source, target: b.target, scale: scale))
          }
        }
      }
    }
  }

  /// Every remaining edge factor absorbed into weights, pushed on, or given a node of its own.
  private mutating func absorbEdgeFactors() {
    var k = 0
    while k < nodes.count {
      let name = nodes[k].name
      let scaled = incoming(name).filter { edges[$0].scale.map(Self.isOne) == false }
      if !scaled.isEmpty { absorb(into: name) }
      for e in incoming(name) where edges[e].scale.map(Self.isOne) == true { edges[e].scale = nil }
      k += 1
    }
  }

  private static func isOne(_ scale: [Float]) -> Bool { scale.allSatisfy { $0 == 1 } }

  private mutating func absorb(into name: String) {
    let target = index(of: name)
    let into = incoming(name)
    let weighted = ["Affine", "Linear", "Conv2d"]
    // 1. Into the target's columns, when every input carries the same factor.
    if weighted.contains(nodes[target].type), let first = edges[into[0]].scale,
      into.allSatisfy({ edges[$0].scale == first }),
      scaleColumns(of: target, by: first, source: shapes[edges[into[0]].source]!)
    {
      for e in into { edges[e].scale = nil }
      return
    }
    for e in into {
      guard let scale = edges[e].scale, !Self.isOne(scale) else { continue }
      let source = index(of: edges[e].source)
      // 2. Into the source's rows, when this edge is its only one.
      if weighted.contains(nodes[source].type), outgoing(nodes[source].name).count == 1,
        scaleRows(of: source, by: scale)
      {
        edges[e].scale = nil
        continue
      }
      // 3. Through a node that commutes with it, when this edge is its only input.
      if ["Flatten", "Identity", "AvgPool2d", "SumPool2d"].contains(nodes[target].type), into.count == 1,
        let passed = passThrough(scale, node: target, from: shapes[edges[e].source]!)
      {
        for out in outgoing(name) { edges[out].scale = Self.product(edges[out].scale, passed) }
        edges[e].scale = nil
        continue
      }
      // 4. A node of its own.
      materialize(e)
    }
  }

  /// The factor per channel of a `C×H×W` shape when it is constant over each channel's image.
  private static func perChannel(_ scale: [Float], shape: [Int]) -> [Float]? {
    guard shape.count == 3 else { return nil }
    let area = shape[1] * shape[2]
    let channels = (0..<shape[0]).map { scale[$0 * area] }
    for c in 0..<shape[0] where scale[(c * area)..<((c + 1) * area)].contains(where: { $0 != channels[c] }) {
      return nil
    }
    return channels
  }

  /// Multiplies the input columns of an Affine/Linear (one per input value) or the input
  /// channels of a Conv2d; false where the factor does not fit the node's weight.
  private mutating func scaleColumns(of k: Int, by scale: [Float], source: [Int]) -> Bool {
    guard let (stored, shape) = nodes[k].floats("weight") else { return false }
    var weight = stored
    if nodes[k].type == "Conv2d" {
      guard let channels = Self.perChannel(scale, shape: source), channels.count == shape[1] else {
        return false
      }
      let window = shape[2] * shape[3]
      for o in 0..<shape[0] {
        for c in 0..<shape[1] {
          for w in 0..<window { weight[(o * shape[1] + c) * window + w] *= channels[c] }
        }
      }
    } else {
      guard shape.count == 2, scale.count == shape[1] else { return false }
      for o in 0..<shape[0] {
        for i in 0..<shape[1] { weight[o * shape[1] + i] *= scale[i] }
      }
    }
    nodes[k].setFloats("weight", weight, shape: shape)
    return true
  }

  /// Multiplies the output rows (and bias) of an Affine/Linear, or the output channels of a
  /// Conv2d; false where the factor does not fit.
  private mutating func scaleRows(of k: Int, by scale: [Float]) -> Bool {
    guard let (stored, shape) = nodes[k].floats("weight") else { return false }
    var weight = stored
    let rows: [Float]
    if nodes[k].type == "Conv2d" {
      guard let channels = Self.perChannel(scale, shape: shapes[nodes[k].name]!) else { return false }
      rows = channels
    } else {
      guard scale.count == shape[0] else { return false }
      rows = scale
    }
    let width = weight.count / shape[0]
    for o in 0..<shape[0] {
      for i in 0..<width { weight[o * width + i] *= rows[o] }
    }
    nodes[k].setFloats("weight", weight, shape: shape)
    if let (bias, biasShape) = nodes[k].floats("bias") {
      nodes[k].setFloats("bias", zip(bias, rows).map { $0 * $1 }, shape: biasShape)
    }
    return true
  }

  /// The factor on a node's output that equals `scale` on its input: the same values through a
  /// Flatten or Identity, the same factor per channel through pooling; nil where it does not
  /// commute.
  private func passThrough(_ scale: [Float], node k: Int, from source: [Int]) -> [Float]? {
    let out = shapes[nodes[k].name]!
    switch nodes[k].type {
    case "Flatten", "Identity": return scale
    default:
      guard let channels = Self.perChannel(scale, shape: source), out.count == 3 else { return nil }
      return channels.flatMap { [Float](repeating: $0, count: out[1] * out[2]) }
    }
  }

  /// Puts a node between an edge's ends that multiplies by its factor.
  private mutating func materialize(_ e: Int) {
    let edge = edges[e]
    let shape = shapes[edge.source]!
    let scale = edge.scale!
    var name = "\(edge.source)_to_\(edge.target)_scale"
    while nodes.contains(where: { $0.name == name }) { name += "_" }
    var node: NIRExport.NIRNode
    if let channels = Self.perChannel(scale, shape: shape) {
      let c = shape[0]
      var weight = [Float](repeating: 0, count: c * c)
      for k in 0..<c { weight[k * c + k] = channels[k] }
      node = NIRExport.convolution(
        name, weight: weight, shape: [c, c, 1, 1], bias: [Float](repeating: 0, count: c), strides: [1, 1],
        padding: [0, 0], groups: 1, input: [shape[1], shape[2]])
    } else if shape.count == 1, shape[0] <= Self.largestDiagonal {
      let n = shape[0]
      var weight = [Float](repeating: 0, count: n * n)
      for k in 0..<n { weight[k * n + k] = scale[k] }
      node = NIRExport.NIRNode(
        name: name, type: "Linear", parameters: [("weight", .floats(weight, shape: [n, n]))])
    } else {
      node = NIRExport.NIRNode(
        name: name, type: "Scale", parameters: [("scale", .floats(scale, shape: shape))])
      warnings.append(
        "'\(edge.source)' → '\(edge.target)': a factor that varies within a channel stays a Scale node, which the frameworks' importers do not read"
      )
    }
    shapes[name] = shape
    nodes.insert(node, at: index(of: edge.target))
    edges[e] = Edge(source: edge.source, target: name, scale: nil)
    edges.append(Edge(source: name, target: edge.target, scale: nil))
  }

  /// Names of letters, digits and underscores, not starting with a digit: importers build
  /// PyTorch modules named after the nodes, and PyTorch refuses `.` in a module's name.
  private mutating func renameForImporters() {
    var renamed = [String: String]()
    var taken = Set<String>()
    for k in nodes.indices {
      var name = String(
        nodes[k].name.unicodeScalars.map {
          ($0.properties.isAlphabetic || ("0"..."9").contains($0)) && $0.isASCII ? Character($0) : "_"
        })
      if name.isEmpty || name.first!.isNumber { name = "n_" + name }
      let base = name
      var suffix = 2
      while taken.contains(name) {
        name = "\(base)_\(suffix)"
        suffix += 1
      }
      taken.insert(name)
      renamed[nodes[k].name] = name
      nodes[k].name = name
    }
    for e in edges.indices {
      edges[e].source = renamed[edges[e].source]!
      edges[e].target = renamed[edges[e].target]!
    }
  }

  /// Elementwise product; nil stands for all ones.
  private static func product(_ a: [Float]?, _ b: [Float]?) -> [Float]? {
    guard let a else { return b }
    guard let b else { return a }
    return zip(a, b).map { $0 * $1 }
  }
}

extension NIRExport.NIRNode {
  /// The node as the toolkit reads it back from NIR.
  var raw: NIRGraph.RawNode {
    var values = [String: NIRGraph.Value]()
    for (name, parameter) in parameters {
      switch parameter {
      case .floats(let floats, let shape):
        values[name] = .numbers(shape: shape, values: floats.map(Double.init))
      case .integers(let integers, let shape):
        values[name] = .numbers(shape: shape, values: integers.map(Double.init))
      }
    }
    return NIRGraph.RawNode(
      name: name, type: type, parameters: values, metadata: Dictionary(uniqueKeysWithValues: metadata))
  }

  func floats(_ name: String) -> ([Float], [Int])? {
    guard case .floats(let values, let shape)? = parameters.first(where: { $0.0 == name })?.1 else {
      return nil
    }
    return (values, shape)
  }

  mutating func setFloats(_ name: String, _ values: [Float], shape: [Int]) {
    let k = parameters.firstIndex { $0.0 == name }!
    parameters[k].1 = .floats(values, shape: shape)
  }
}
