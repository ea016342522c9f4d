import Tensor

extension Graph {
  /// Runs the network on a batch and returns every node's output (`[batch] + node.shape`).
  ///
  /// Inference semantics: BatchNorm uses its moving statistics, Dropout is the identity.
  /// - Parameter inputs: one tensor per input node, in ``inputNodes`` order, each
  ///   `[batch] + shape`.
  /// - Complexity: one pass over the nodes; memory holds every intermediate (use
  ///   ``predict(_:)`` when only the outputs are needed).
  public func activations(_ inputs: [Tensor<Float>]) -> [String: Tensor<Float>] {
    var values = [String: Tensor<Float>]()
    evaluate(inputs) { name, value in values[name] = value }
    return values
  }

  /// Runs the network on a batch and returns the outputs of the nodes named in `kept` only;
  /// every other intermediate is freed after its last reader.
  public func activations(_ inputs: [Tensor<Float>], keeping kept: Set<String>) -> [String: Tensor<Float>] {
    var values = [String: Tensor<Float>]()
    evaluate(inputs) { name, value in if kept.contains(name) { values[name] = value } }
    return values
  }

  /// Runs the network on a batch and returns its outputs, freeing each intermediate as soon as
  /// no later node reads it.
  public func predict(_ inputs: [Tensor<Float>]) -> [Tensor<Float>] {
    var results = [String: Tensor<Float>]()
    let wanted = Set(outputs)
    evaluate(inputs) { name, value in if wanted.contains(name) { results[name] = value } }
    return outputs.map { results[$0]! }
  }

  /// Evaluates every node in order, passing each output to `visit`.
  func evaluate(_ inputs: [Tensor<Float>], visit: (String, Tensor<Float>) -> Void) {
    let inputNodes = inputNodes
    precondition(
      inputs.count == inputNodes.count, "graph has \(inputNodes.count) inputs, got \(inputs.count)")
    var lastUse = [String: Int]()
    for (position, node) in nodes.enumerated() {
      for input in node.inputs { lastUse[input] = position }
    }
    for output in outputs { lastUse[output] = nodes.count }
    var live = [String: Tensor<Float>]()
    var nextInput = 0
    for (position, node) in nodes.enumerated() {
      let value: Tensor<Float>
      if case .input = node.op {
        value = inputs[nextInput]
        precondition(
          Array(value.shape.dropFirst()) == node.shape,
          "input '\(node.name)' needs \(node.shape) per sample, got \(value.shape)")
        nextInput += 1
      } else {
        value = node.op.apply(node.inputs.map { live[$0]! }, parameters: node.parameters)
      }
      visit(node.name, value)
      live[node.name] = value
      for input in node.inputs where lastUse[input] == position { live[input] = nil }
    }
  }
}

extension Op {
  /// The op's inference-time output for a batch of inputs (`[batch] + shape` each): BatchNorm
  /// uses its moving statistics, Dropout is the identity. Each op's rule is in its file under
  /// `Ops/`, beside its backward pass.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func apply<Scalar: TensorScalar>(
    _ inputs: [Tensor<Scalar>], parameters: [String: Tensor<Scalar>]
  ) -> Tensor<Scalar> {
    let x = inputs.first!
    switch self {
    case .input, .dropout: return x
    case .dense: return Dense.forward(x, parameters: parameters)
    case .conv2d(let a): return Convolution.forward(x, attributes: a, parameters: parameters)
    case .pool2d(let a): return Pooling.forward(x, attributes: a)
    case .globalAveragePool2d: return Pooling.globalAverageForward(x)
    case .windowElement(let a, let row, let column):
      return Pooling.windowElement(x, attributes: a, row: row, column: column)
    case .flatten: return x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])
    case .reshape(let target): return Structural.reshape(x, to: target)
    case .batchNorm(let epsilon, _, _):
      return BatchNormalization.forward(x, epsilon: epsilon, parameters: parameters)
    case .layerNorm(let epsilon, _, _):
      return LayerNormalization.forward(x, epsilon: epsilon, parameters: parameters)
    case .scaleShift: return LayerNormalization.scaleShift(x, parameters: parameters)
    case .lastAxis(let statistic): return LayerNormalization.lastAxis(x, statistic)
    case .lastAxisRotation(let shift): return LayerNormalization.lastAxisRotation(x, shift: shift)
    case .add: return inputs.dropFirst().reduce(x) { $0 + $1 }
    case .concatenate(let axis): return Structural.concatenate(inputs, axis: axis)
    case .activation(let function): return x.map(function)
    case .softmax: return x.softmaxLastAxis()
    case .binary(let function): return Tensor.zip(x, inputs[1], function)
    case .zeroPad2d, .crop2d, .permute, .upSample2d, .spread2d: return Structural.select(self, x)
    case .conv2dTranspose(let a): return ConvolutionTranspose.forward(x, attributes: a, parameters: parameters)
    }
  }
}
