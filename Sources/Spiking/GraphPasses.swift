import Graph
import Tensor

/// Rewrites of a trained graph that keep its inference function and make conversion simpler.
public enum GraphPasses {
  /// Removes Dropout nodes (the identity at inference), rewiring their readers.
  public static func removeDropout(_ graph: Graph) throws -> Graph {
    try bypass(graph) { if case .dropout = $0.op { true } else { false } }
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
      let variance = node.parameters["moving_variance"]!.scalars
      let gamma = node.parameters["gamma"]?.scalars ?? [Float](repeating: 1, count: channels)
      let beta = node.parameters["beta"]?.scalars ?? [Float](repeating: 0, count: channels)
      let factor = (0..<channels).map { gamma[$0] / (variance[$0] + Float(epsilon)).squareRoot() }
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
