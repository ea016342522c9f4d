import Graph
import Tensor

/// A graph prepared for training in one precision: its parameters converted to `Scalar`, a
/// forward pass that records what the backward pass needs, and the backward pass.
///
/// Reverse-mode AD on the graph: one forward pass in topological order stores every node's
/// output (and, for normalizations and dropout, one extra tensor); one backward pass in reverse
/// order accumulates each node's output gradient with `+=` over its readers and applies the
/// op's vector-Jacobian product. Cost is linear in the graph.
struct TrainingNetwork<Scalar: TensorScalar> {
  private(set) var graph: Graph
  /// Parameters per node, in node order (trainable ones and BatchNorm's moving statistics).
  var parameters: [[String: Tensor<Scalar>]]
  /// Round every value to IEEE half after each operation (``Precision/float16``).
  let roundsToHalf: Bool
  let policy: SubgradientPolicy
  /// BatchNorm moving-statistics update: `moving ← momentum · moving + (1 − momentum) · batch`.
  let batchNormMomentum: Scalar = 0.99
  private let inputIndices: [[Int]]
  private let outputIndex: Int
  /// Per node, under half precision: whether its output, and the gradients it passes back, are
  /// already half values when what it reads is (it only selects, reshapes or zeroes values), so
  /// that rounding them again would change nothing and is skipped.
  private let forwardKeepsHalf: [Bool]
  private let backwardKeepsHalf: [Bool]

  struct Tape {
    /// Every node's output, in node order.
    var values: [Tensor<Scalar>]
    var saved: [SavedForBackward<Scalar>]
    let outputIndex: Int
    var output: Tensor<Scalar> { values[outputIndex] }
  }

  /// - Throws: ``TrainingError/untrainableOp(node:op:)`` for the ops of a spiking decomposition,
  ///   which have no backward pass.
  init(graph: Graph, roundsToHalf: Bool, policy: SubgradientPolicy) throws {
    for node in graph.nodes where !node.op.isDifferentiable {
      throw TrainingError.untrainableOp(node: node.name, op: node.op.kind)
    }
    self.graph = graph
    self.roundsToHalf = roundsToHalf
    self.policy = policy
    let index = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    inputIndices = graph.nodes.map { $0.inputs.map { index[$0]! } }
    outputIndex = index[graph.outputs[0]]!
    forwardKeepsHalf = graph.nodes.map { $0.op.selectsInputValues }
    backwardKeepsHalf = graph.nodes.map { $0.op.selectsOutputGradients(policy) }
    parameters = graph.nodes.map { node in
      node.parameters.mapValues { tensor in
        var converted: Tensor<Scalar> = tensor.converted()
        if roundsToHalf { converted.roundToHalf() }
        return converted
      }
    }
  }

  /// The graph with the trained parameters, converted to float32 for saving.
  func trainedGraph() throws -> Graph {
    var nodes = graph.nodes
    for index in nodes.indices {
      nodes[index].parameters = parameters[index].mapValues { $0.converted(to: Float.self) }
    }
    return try Graph(name: graph.name, nodes: nodes, outputs: graph.outputs)
  }

  @inline(__always)
  private func finish(_ tensor: inout Tensor<Scalar>) {
    if roundsToHalf { tensor.roundToHalf() }
  }

  // MARK: Forward

  /// Runs the network on a batch. In training mode BatchNorm uses (and updates its moving
  /// averages from) batch statistics and Dropout drops; otherwise both behave as at inference.
  mutating func forward(_ input: Tensor<Scalar>, training: Bool, random: inout SplitMix64) -> Tape {
    var values = [Tensor<Scalar>]()
    var saved = [SavedForBackward<Scalar>]()
    values.reserveCapacity(graph.nodes.count)
    saved.reserveCapacity(graph.nodes.count)
    for (index, node) in graph.nodes.enumerated() {
      var result: DifferentiableOutput<Scalar>
      if case .input = node.op {
        result = DifferentiableOutput(input)
        finish(&result.output)
      } else {
        result = node.op.differentiableForward(
          inputIndices[index].map { values[$0] }, parameters: parameters[index], training: training,
          roundsToHalf: roundsToHalf, random: &random)
      }
      if let statistics = result.batchStatistics {
        updateMovingStatistics(node: index, mean: statistics.mean, variance: statistics.variance)
      }
      if !forwardKeepsHalf[index] { finish(&result.output) }
      values.append(result.output)
      saved.append(result.saved)
    }
    return Tape(values: values, saved: saved, outputIndex: outputIndex)
  }

  private mutating func updateMovingStatistics(node: Int, mean: [Scalar], variance: [Scalar]) {
    let momentum = batchNormMomentum
    for (name, batch) in [("moving_mean", mean), ("moving_variance", variance)] {
      var moving = parameters[node][name]!
      moving.withUnsafeMutableScalars { m in
        for c in m.indices { m[c] = momentum * m[c] + (1 - momentum) * batch[c] }
      }
      finish(&moving)
      parameters[node][name] = moving
    }
  }

  // MARK: Backward

  /// The gradient of the loss with respect to every trainable parameter, given its gradient
  /// with respect to the network's output. Moving statistics get no gradient.
  func backward(_ tape: Tape, outputGradient: Tensor<Scalar>) -> [[String: Tensor<Scalar>]] {
    backwardWithInput(tape, outputGradient: outputGradient).parameters
  }

  /// ``backward(_:outputGradient:)`` that also returns the gradient reaching the (first) input.
  func backwardWithInput(_ tape: Tape, outputGradient: Tensor<Scalar>) -> (
    parameters: [[String: Tensor<Scalar>]], input: Tensor<Scalar>?
  ) {
    var inputGradient: Tensor<Scalar>?
    var gradients = [Tensor<Scalar>?](repeating: nil, count: graph.nodes.count)
    gradients[outputIndex] = outputGradient
    var parameterGradients = [[String: Tensor<Scalar>]](repeating: [:], count: graph.nodes.count)
    for index in graph.nodes.indices.reversed() {
      guard let dy = gradients[index] else { continue }
      let node = graph.nodes[index]
      let sources = inputIndices[index]
      let p = parameters[index]
      if case .input = node.op, inputGradient == nil { inputGradient = dy }
      let rule = node.op.backward(
        inputs: sources.map { tape.values[$0] }, output: tape.values[index], saved: tape.saved[index],
        outputGradient: dy, parameters: p, policy: policy)
      let inputGradients = rule.inputs
      let grads = rule.parameters
      for (position, source) in sources.enumerated() {
        var gradient = inputGradients[position]
        if !backwardKeepsHalf[index] { finish(&gradient) }
        if let existing = gradients[source] {
          gradient = existing + gradient
          finish(&gradient)
        }
        gradients[source] = gradient
      }
      for (name, var gradient) in grads {
        precondition(
          gradient.shape == p[name]!.shape,
          "gradient of \(node.name).\(name): \(gradient.shape) vs \(p[name]!.shape)")
        finish(&gradient)
        parameterGradients[index][name] = gradient
      }
      gradients[index] = nil
    }
    return (parameterGradients, inputGradient)
  }
}

extension Op {
  /// Whether the output's values are values of the input or zeros (ReLU, identity, max pooling,
  /// flatten, reshape): exact in any precision the input is.
  var selectsInputValues: Bool {
    switch self {
    case .activation(.relu), .activation(.identity), .flatten, .reshape: return true
    case .pool2d(let a): return a.mode == .max
    default: return false
    }
  }

  /// Whether the input gradient's values are values of the output gradient or zeros: ReLU when
  /// its derivative at 0 is 0 or 1, identity, flatten, reshape, and max pooling whose windows do
  /// not overlap and whose ties are not split (an overlap would sum two routed gradients).
  func selectsOutputGradients(_ policy: SubgradientPolicy) -> Bool {
    switch self {
    case .activation(.relu): return policy.reluPrime == 0 || policy.reluPrime == 1
    case .activation(.identity), .flatten, .reshape: return true
    case .pool2d(let a):
      return a.mode == .max && policy.maxPoolTie != .split && zip(a.strides, a.size).allSatisfy { $0 >= $1 }
    default: return false
    }
  }
}
