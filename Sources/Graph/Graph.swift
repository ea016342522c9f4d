import Tensor

/// A network as data: nodes in topological order, each with an op, its inputs, its parameters
/// and its inferred per-sample output shape.
///
/// The one model representation of the toolkit: file readers produce it, the trainer
/// differentiates it, the converter rewrites it. A `Graph` value is always valid: the
/// initializer orders the nodes, infers every shape and checks every parameter, and reports the
/// first problem with both ends of the offending edge named.
public struct Graph: Sendable, Equatable, Codable {
  public var name: String
  /// All nodes, in an order where every node comes after its inputs.
  public private(set) var nodes: [Node]
  /// The names of the nodes whose outputs are the network's outputs.
  public private(set) var outputs: [String]
  /// Where each node sits in ``nodes``, so that ``node(_:)`` is a lookup, not a scan (writers
  /// and passes ask for every node's inputs).
  private var positions: [String: Int] = [:]

  /// Builds and validates a graph.
  /// - Parameters:
  ///   - nodes: in any order; input nodes have op ``Op/input(shape:)``.
  ///   - outputs: the output node names; nil means the nodes nobody reads, in the given order.
  /// - Throws: ``GraphError`` for the first problem found.
  /// - Complexity: O(nodes + edges + parameter values).
  public init(name: String, nodes: [Node], outputs: [String]? = nil) throws {
    self.name = name
    self.nodes = try Graph.topologicallySorted(nodes)
    let read = Set(nodes.flatMap(\.inputs))
    self.outputs = outputs ?? nodes.map(\.name).filter { !read.contains($0) }
    let names = Set(nodes.map(\.name))
    for output in self.outputs where !names.contains(output) {
      throw GraphError.unknownOutput(output)
    }
    guard self.nodes.contains(where: { if case .input = $0.op { true } else { false } }) else {
      throw GraphError.noInputs
    }
    var shapes = [String: [Int]]()
    for index in self.nodes.indices {
      let node = self.nodes[index]
      let inputShapes = node.inputs.map { shapes[$0]! }
      let shape = try ShapeInference.outputShape(of: node, inputShapes: inputShapes)
      try Graph.checkParameters(of: node, inputShape: inputShapes.first ?? shape)
      self.nodes[index].shape = shape
      shapes[node.name] = shape
      positions[node.name] = index
    }
  }

  private enum CodingKeys: String, CodingKey { case name, nodes, outputs }

  /// Decodes a graph and validates it exactly as ``init(name:nodes:outputs:)`` does: the nodes
  /// are sorted, every shape is inferred again (stored shapes are ignored) and every parameter is
  /// checked.
  /// - Throws: the first ``GraphError`` found, or a `DecodingError` for malformed data.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      name: try container.decode(String.self, forKey: .name),
      nodes: try container.decode([Node].self, forKey: .nodes),
      outputs: try container.decode([String].self, forKey: .outputs))
  }

  /// The input nodes, in order.
  public var inputNodes: [Node] {
    nodes.filter { if case .input = $0.op { true } else { false } }
  }

  /// The most elements one tensor may hold — a node's output per sample, or a parameter:
  /// 2²⁸ (1 GiB of float32), documented in docs/limits.md. Descriptions and files that claim
  /// more are refused before anything is allocated.
  public static let maximumElements = 1 << 28

  /// The product of `shape` when every dimension is positive and the product is at most
  /// ``maximumElements``; nil otherwise (no overflow trap).
  public static func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
      guard dimension > 0 else { return nil }
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow, product <= maximumElements else { return nil }
      count = product
    }
    return count
  }

  /// The per-sample output shape `node` would have with inputs of `inputShapes`, checked as
  /// the graph's own validation checks it (parameters aside): for builders that grow a graph
  /// one node at a time without re-validating the whole of it at each step.
  /// - Throws: ``GraphError`` when the node does not fit its inputs.
  public static func outputShape(of node: Node, inputShapes: [[Int]]) throws -> [Int] {
    try ShapeInference.outputShape(of: node, inputShapes: inputShapes)
  }

  /// The node called `name`.
  public func node(_ name: String) -> Node? { positions[name].map { nodes[$0] } }

  /// The total number of parameter values.
  public var parameterCount: Int { nodes.reduce(0) { $0 + $1.parameterCount } }

  /// Kahn's algorithm taking the earliest-listed ready node first, so the given order is kept
  /// wherever it is already valid; iterative, so deep graphs are fine.
  /// - Complexity: O(nodes · ready + edges).
  static func topologicallySorted(_ nodes: [Node]) throws -> [Node] {
    var index = [String: Int]()
    for (position, node) in nodes.enumerated() {
      guard index.updateValue(position, forKey: node.name) == nil else {
        throw GraphError.duplicateName(node.name)
      }
    }
    var pending = [Int](repeating: 0, count: nodes.count)
    var readers = [[Int]](repeating: [], count: nodes.count)
    for (position, node) in nodes.enumerated() {
      guard node.op.arity.contains(node.inputs.count) else {
        let range = node.op.arity
        let expected = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound)"
        throw GraphError.arity(
          node: node.name, op: node.op.kind, expected: expected, actual: node.inputs.count)
      }
      for input in node.inputs {
        guard let source = index[input] else { throw GraphError.unknownInput(node: node.name, input: input) }
        pending[position] += 1
        readers[source].append(position)
      }
    }
    // Ready nodes wait in descending index order, so the smallest index is taken first and an
    // order that is already topological is kept as it is.
    var ready = (0..<nodes.count).filter { pending[$0] == 0 }.reversed() as [Int]
    var order = [Node]()
    order.reserveCapacity(nodes.count)
    while let position = ready.popLast() {
      order.append(nodes[position])
      for reader in readers[position] {
        pending[reader] -= 1
        if pending[reader] == 0 {
          let slot = ready.partitioningIndex { $0 < reader }
          ready.insert(reader, at: slot)
        }
      }
    }
    guard order.count == nodes.count else {
      throw GraphError.cycle(nodes.indices.filter { pending[$0] > 0 }.map { nodes[$0].name })
    }
    return order
  }

  static func checkParameters(of node: Node, inputShape: [Int]) throws {
    let expected = node.op.parameterShapes(input: inputShape)
    for (name, shape) in expected {
      guard let tensor = node.parameters[name] else {
        throw GraphError.missingParameter(node: node.name, parameter: name, expectedShape: shape)
      }
      guard tensor.shape == shape else {
        throw GraphError.parameterShape(
          node: node.name, parameter: name, expected: shape, actual: tensor.shape)
      }
      if let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
        throw GraphError.nonFiniteParameter(node: node.name, parameter: name, index: bad)
      }
    }
    for name in node.parameters.keys where !expected.contains(where: { $0.name == name }) {
      throw GraphError.unexpectedParameter(node: node.name, parameter: name)
    }
  }
}

extension Array where Element == Int {
  /// The first index whose element satisfies `belongs`, for an array partitioned so that all
  /// elements failing it come first (binary search).
  fileprivate func partitioningIndex(where belongs: (Int) -> Bool) -> Int {
    var low = 0
    var high = count
    while low < high {
      let middle = (low + high) / 2
      if belongs(self[middle]) { high = middle } else { low = middle + 1 }
    }
    return low
  }
}
