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

  /// What a node's forward pass leaves for its backward pass besides its input and output.
  enum Saved {
    case nothing
    /// The normalized input `x̂` and `1/sqrt(σ² + ε)` per channel (BatchNorm) or per row (LayerNorm).
    case normalization(normalized: Tensor<Scalar>, inverseDeviation: [Scalar])
    /// Dropout's mask, already scaled by `1/(1 − rate)`.
    case mask(Tensor<Scalar>)
  }

  struct Tape {
    /// Every node's output, in node order.
    var values: [Tensor<Scalar>]
    var saved: [Saved]
    let outputIndex: Int
    var output: Tensor<Scalar> { values[outputIndex] }
  }

  /// - Throws: ``TrainingError/untrainableOp(node:op:)`` for the ops of a spiking decomposition,
  ///   which have no backward pass.
  init(graph: Graph, roundsToHalf: Bool, policy: SubgradientPolicy) throws {
    for node in graph.nodes {
      switch node.op {
      case .binary, .windowElement, .lastAxis, .scaleShift:
        throw TrainingError.untrainableOp(node: node.name, op: node.op.kind)
      default: continue
      }
    }
    self.graph = graph
    self.roundsToHalf = roundsToHalf
    self.policy = policy
    let index = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    inputIndices = graph.nodes.map { $0.inputs.map { index[$0]! } }
    outputIndex = index[graph.outputs[0]]!
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
    var saved = [Saved]()
    values.reserveCapacity(graph.nodes.count)
    saved.reserveCapacity(graph.nodes.count)
    for (index, node) in graph.nodes.enumerated() {
      let inputs = inputIndices[index].map { values[$0] }
      var extra = Saved.nothing
      var output: Tensor<Scalar>
      let p = parameters[index]
      switch node.op {
      case .input:
        output = input
        finish(&output)
      case .dense:
        output = Tensor.dense(inputs[0], weight: p["kernel"]!, bias: p["bias"])
      case .conv2d(let a):
        output = Tensor.conv2d(
          inputs[0], kernel: p["kernel"]!, bias: p["bias"], strides: (a.strides[0], a.strides[1]),
          padding: a.padding)
      case .batchNorm(let epsilon, _, _) where training:
        let (y, normalized, inverse, mean, variance) = Self.normalizeChannels(
          inputs[0], epsilon: Scalar(epsilon), gamma: p["gamma"], beta: p["beta"])
        output = y
        extra = .normalization(normalized: normalized, inverseDeviation: inverse)
        updateMovingStatistics(node: index, mean: mean, variance: variance)
      case .layerNorm(let epsilon, _, _):
        let (y, normalized, inverse) = Self.normalizeRows(
          inputs[0], epsilon: Scalar(epsilon), gamma: p["gamma"], beta: p["beta"])
        output = y
        extra = .normalization(normalized: normalized, inverseDeviation: inverse)
      case .dropout(let rate) where training && rate > 0:
        let keep = 1 - Scalar(rate)
        var mask = Tensor<Scalar>(zeros: inputs[0].shape)
        mask.withUnsafeMutableScalars { m in
          for i in m.indices { m[i] = Scalar.random(in: 0..<1, using: &random) < keep ? 1 / keep : 0 }
        }
        finish(&mask)
        output = inputs[0] * mask
        extra = .mask(mask)
      default:
        output = node.op.apply(inputs, parameters: p)
      }
      finish(&output)
      values.append(output)
      saved.append(extra)
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

  /// Batch statistics over every axis but the last: `y = γ x̂ + β`, `x̂ = (x − μ)/sqrt(σ² + ε)`,
  /// σ² the biased (population) variance, as Keras uses in training.
  static func normalizeChannels(
    _ x: Tensor<Scalar>, epsilon: Scalar, gamma: Tensor<Scalar>?, beta: Tensor<Scalar>?
  ) -> (Tensor<Scalar>, Tensor<Scalar>, [Scalar], [Scalar], [Scalar]) {
    let width = x.shape.last!
    let rows = x.count / width
    let mean = x.reshaped([rows, width]).reduce(.mean, axis: 0).scalars
    var variance = [Scalar](repeating: 0, count: width)
    x.scalars.withUnsafeBufferPointer { v in
      mean.withUnsafeBufferPointer { mu in
        variance.withUnsafeMutableBufferPointer { sigma in
          for r in 0..<rows {
            let base = r &* width
            for c in 0..<width {
              let d = v[base &+ c] - mu[c]
              sigma[c] += d * d
            }
          }
        }
      }
    }
    variance = variance.map { $0 / Scalar(rows) }
    let inverse = variance.map { 1 / ($0 + epsilon).squareRoot() }
    let normalized = x.affinePerChannel(scale: inverse, shift: mean.indices.map { -mean[$0] * inverse[$0] })
    let y = normalized.affinePerChannel(
      scale: gamma?.scalars ?? [Scalar](repeating: 1, count: width),
      shift: beta?.scalars ?? [Scalar](repeating: 0, count: width))
    return (y, normalized, inverse, mean, variance)
  }

  /// Per-row statistics over the last axis (LayerNorm).
  static func normalizeRows(
    _ x: Tensor<Scalar>, epsilon: Scalar, gamma: Tensor<Scalar>?, beta: Tensor<Scalar>?
  ) -> (Tensor<Scalar>, Tensor<Scalar>, [Scalar]) {
    let width = x.shape.last!
    let rows = x.count / width
    var normalized = x
    var inverse = [Scalar](repeating: 0, count: rows)
    normalized.withUnsafeMutableScalars { v in
      for r in 0..<rows {
        let base = r &* width
        var mean: Scalar = 0
        for c in 0..<width { mean += v[base &+ c] }
        mean /= Scalar(width)
        var variance: Scalar = 0
        for c in 0..<width {
          let d = v[base &+ c] - mean
          variance += d * d
        }
        let inv = 1 / (variance / Scalar(width) + epsilon).squareRoot()
        inverse[r] = inv
        for c in 0..<width { v[base &+ c] = (v[base &+ c] - mean) * inv }
      }
    }
    let y = normalized.affinePerChannel(
      scale: gamma?.scalars ?? [Scalar](repeating: 1, count: width),
      shift: beta?.scalars ?? [Scalar](repeating: 0, count: width))
    return (y, normalized, inverse)
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
      let x = sources.first.map { tape.values[$0] }
      let y = tape.values[index]
      let p = parameters[index]
      var inputGradients = [Tensor<Scalar>]()
      var grads = [String: Tensor<Scalar>]()
      switch node.op {
      case .binary, .windowElement, .lastAxis, .scaleShift:
        preconditionFailure("refused when the network was made")
      case .input:
        if inputGradient == nil { inputGradient = dy }
      case .dense:
        let kernel = p["kernel"]!
        let rows = x!.count / kernel.shape[0]
        let x2 = x!.reshaped([rows, kernel.shape[0]])
        let dy2 = dy.reshaped([rows, kernel.shape[1]])
        grads["kernel"] = Tensor.matmul(x2, dy2, transposeA: true)
        if p["bias"] != nil { grads["bias"] = dy2.reduce(.sum, axis: 0) }
        inputGradients = [Tensor.matmul(dy2, kernel, transposeB: true).reshaped(x!.shape)]
      case .conv2d(let a):
        let result = Tensor.conv2dBackward(
          input: x!, kernel: p["kernel"]!, outputGradient: dy, strides: (a.strides[0], a.strides[1]),
          padding: a.padding)
        grads["kernel"] = result.kernel
        if p["bias"] != nil { grads["bias"] = result.bias }
        inputGradients = [result.input]
      case .pool2d(let a):
        inputGradients = [
          Tensor.pool2dBackward(
            input: x!, output: y, outputGradient: dy, mode: a.mode, size: (a.size[0], a.size[1]),
            strides: (a.strides[0], a.strides[1]), padding: a.padding, tie: policy.maxPoolTie)
        ]
      case .globalAveragePool2d:
        inputGradients = [Tensor.globalAveragePool2dBackward(outputGradient: dy, inputShape: x!.shape)]
      case .flatten, .reshape:
        inputGradients = [dy.reshaped(x!.shape)]
      case .batchNorm(let epsilon, _, _):
        if case .normalization(let normalized, let inverse) = tape.saved[index] {
          let (dx, dGamma, dBeta) = Self.normalizationBackward(
            dy, normalized: normalized, inverse: inverse, gamma: p["gamma"], perRow: false)
          inputGradients = [dx]
          if p["gamma"] != nil { grads["gamma"] = dGamma }
          if p["beta"] != nil { grads["beta"] = dBeta }
        } else {
          // Inference mode: `y = x·a + b` per channel with `a = γ/√(σ² + ε)`, so `dx = dy·a`,
          // `dγ = Σ dy·(x − μ)/√(σ² + ε)` and `dβ = Σ dy` over every axis but the channels.
          let scale = BatchNormalization.channelAffine(epsilon: epsilon, parameters: p).scale
          inputGradients = [
            dy.affinePerChannel(scale: scale, shift: [Scalar](repeating: 0, count: scale.count))
          ]
          let width = scale.count
          let rows = dy.count / width
          let dy2 = dy.reshaped([rows, width])
          if p["gamma"] != nil {
            let mean = p["moving_mean"]!.scalars
            let deviation = p["moving_variance"]!.scalars.map { 1 / ($0 + Scalar(epsilon)).squareRoot() }
            let standardized = x!.affinePerChannel(
              scale: deviation, shift: mean.indices.map { -mean[$0] * deviation[$0] })
            grads["gamma"] = (dy * standardized).reshaped([rows, width]).reduce(.sum, axis: 0)
          }
          if p["beta"] != nil { grads["beta"] = dy2.reduce(.sum, axis: 0) }
        }
      case .layerNorm:
        guard case .normalization(let normalized, let inverse) = tape.saved[index] else {
          preconditionFailure("LayerNorm saved nothing")
        }
        let (dx, dGamma, dBeta) = Self.normalizationBackward(
          dy, normalized: normalized, inverse: inverse, gamma: p["gamma"], perRow: true)
        inputGradients = [dx]
        if p["gamma"] != nil { grads["gamma"] = dGamma }
        if p["beta"] != nil { grads["beta"] = dBeta }
      case .dropout:
        if case .mask(let mask) = tape.saved[index] {
          inputGradients = [dy * mask]
        } else {
          inputGradients = [dy]
        }
      case .add:
        inputGradients = Array(repeating: dy, count: sources.count)
      case .concatenate(let given):
        let axis = given < 0 ? given + dy.rank : given + 1
        inputGradients = Self.split(dy, axis: axis, sizes: sources.map { tape.values[$0].shape[axis] })
      case .activation(let function):
        var dx = dy
        let s = Scalar(policy.reluPrime)
        dx.withUnsafeMutableScalars { g in
          x!.scalars.withUnsafeBufferPointer { xs in
            y.scalars.withUnsafeBufferPointer { ys in
              for i in g.indices { g[i] *= function.derivative(xs[i], output: ys[i], reluPrime: s) }
            }
          }
        }
        inputGradients = [dx]
      case .softmax:
        let width = y.shape.last!
        var dx = dy
        dx.withUnsafeMutableScalars { g in
          y.scalars.withUnsafeBufferPointer { ys in
            for row in 0..<(g.count / width) {
              let base = row &* width
              var dot: Scalar = 0
              for j in 0..<width { dot += g[base &+ j] * ys[base &+ j] }
              for j in 0..<width { g[base &+ j] = ys[base &+ j] * (g[base &+ j] - dot) }
            }
          }
        }
        inputGradients = [dx]
      }
      for (position, source) in sources.enumerated() {
        var gradient = inputGradients[position]
        finish(&gradient)
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

  /// Backward pass of `y = γ x̂ + β` with `x̂` normalized over rows (BatchNorm: statistics per
  /// channel over the batch) or within each row (LayerNorm):
  /// `dx = (1/m) · inv · (m·dx̂ − Σ dx̂ − x̂ · Σ (dx̂ · x̂))` with `dx̂ = dy · γ`.
  static func normalizationBackward(
    _ dy: Tensor<Scalar>, normalized: Tensor<Scalar>, inverse: [Scalar], gamma: Tensor<Scalar>?, perRow: Bool
  ) -> (Tensor<Scalar>, Tensor<Scalar>, Tensor<Scalar>) {
    let width = dy.shape.last!
    let rows = dy.count / width
    let gammaValues = gamma?.scalars ?? [Scalar](repeating: 1, count: width)
    var dGamma = [Scalar](repeating: 0, count: width)
    var dBeta = [Scalar](repeating: 0, count: width)
    var dx = Tensor<Scalar>(zeros: dy.shape)
    dy.scalars.withUnsafeBufferPointer { g in
      normalized.scalars.withUnsafeBufferPointer { xh in
        gammaValues.withUnsafeBufferPointer { gm in
          dGamma.withUnsafeMutableBufferPointer { dg in
            dBeta.withUnsafeMutableBufferPointer { db in
              dx.withUnsafeMutableScalars { out in
                for r in 0..<rows {
                  let base = r &* width
                  for c in 0..<width {
                    dg[c] += g[base &+ c] * xh[base &+ c]
                    db[c] += g[base &+ c]
                  }
                }
                if perRow {
                  let m = Scalar(width)
                  for r in 0..<rows {
                    let base = r &* width
                    var sum: Scalar = 0
                    var dot: Scalar = 0
                    for c in 0..<width {
                      let d = g[base &+ c] * gm[c]
                      sum += d
                      dot += d * xh[base &+ c]
                    }
                    let factor = inverse[r] / m
                    for c in 0..<width {
                      out[base &+ c] = factor * (m * g[base &+ c] * gm[c] - sum - xh[base &+ c] * dot)
                    }
                  }
                } else {
                  // Per channel, Σ dy·γ = γ·dβ and Σ dy·γ·x̂ = γ·dγ: no second reduction pass.
                  let m = Scalar(rows)
                  for r in 0..<rows {
                    let base = r &* width
                    for c in 0..<width {
                      let i = base &+ c
                      let scaled: Scalar = m * g[i] - db[c] - xh[i] * dg[c]
                      out[i] = inverse[c] / m * gm[c] * scaled
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return (dx, Tensor(shape: [width], scalars: dGamma), Tensor(shape: [width], scalars: dBeta))
  }

  /// Splits `tensor` along `axis` into pieces of the given extents (the adjoint of concatenate).
  static func split(_ tensor: Tensor<Scalar>, axis: Int, sizes: [Int]) -> [Tensor<Scalar>] {
    let outer = tensor.shape[..<axis].reduce(1, *)
    let inner = tensor.shape[(axis + 1)...].reduce(1, *)
    let total = tensor.shape[axis]
    var offset = 0
    return sizes.map { size in
      var shape = tensor.shape
      shape[axis] = size
      var scalars = [Scalar]()
      scalars.reserveCapacity(outer * size * inner)
      for o in 0..<outer {
        let start = (o * total + offset) * inner
        scalars.append(contentsOf: tensor.scalars[start..<(start + size * inner)])
      }
      offset += size
      return Tensor(shape: shape, scalars: scalars)
    }
  }
}
