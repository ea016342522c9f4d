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
  /// The op's inference-time output for a batch of inputs (`[batch] + shape` each).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func apply<Scalar: TensorScalar>(
    _ inputs: [Tensor<Scalar>], parameters: [String: Tensor<Scalar>]
  ) -> Tensor<Scalar> {
    let x = inputs.first!
    let batch = x.shape[0]
    switch self {
    case .input: return x
    case .dense:
      return Tensor.dense(x, weight: parameters["kernel"]!, bias: parameters["bias"])
    case .conv2d(let a):
      return Tensor.conv2d(
        x, kernel: parameters["kernel"]!, bias: parameters["bias"], strides: (a.strides[0], a.strides[1]),
        padding: a.padding)
    case .pool2d(let a):
      return Tensor.pool2d(
        x, mode: a.mode, size: (a.size[0], a.size[1]), strides: (a.strides[0], a.strides[1]),
        padding: a.padding)
    case .globalAveragePool2d:
      return Tensor.globalAveragePool2d(x)
    case .flatten:
      return x.reshaped([batch, x.count / max(batch, 1)])
    case .reshape(let target):
      let perSample = x.count / max(batch, 1)
      let known = target.filter { $0 != -1 }.reduce(1, *)
      return x.reshaped([batch] + target.map { $0 == -1 ? perSample / known : $0 })
    case .batchNorm(let epsilon, _, _):
      let affine = BatchNormalization.channelAffine(epsilon: epsilon, parameters: parameters)
      return x.affinePerChannel(scale: affine.scale, shift: affine.shift)
    case .layerNorm(let epsilon, _, _):
      return x.layerNormalized(
        epsilon: Scalar(epsilon), gamma: parameters["gamma"]?.scalars, beta: parameters["beta"]?.scalars)
    case .dropout:
      return x
    case .add:
      return inputs.dropFirst().reduce(x) { $0 + $1 }
    case .concatenate(let axis):
      return Tensor.concatenate(inputs, axis: axis < 0 ? axis + x.rank : axis + 1)
    case .activation(let function):
      return x.map(function)
    case .softmax:
      return x.softmaxLastAxis()
    case .binary(let function):
      return Tensor.zip(x, inputs[1], function)
    case .windowElement(let a, let row, let column):
      let window = Window2D(
        input: (x.shape[1], x.shape[2]), kernel: (a.size[0], a.size[1]),
        strides: (a.strides[0], a.strides[1]),
        padding: a.padding)!
      var output = Tensor<Scalar>(zeros: [batch, window.outputHeight, window.outputWidth, x.shape[3]])
      output.withUnsafeMutableScalars { out in
        x.scalars.withUnsafeBufferPointer {
          Tensor<Scalar>.windowElement(
            $0, images: batch, channels: x.shape[3], window: window, row: row, column: column, into: out)
        }
      }
      return output
    case .lastAxis(let statistic):
      var output = x
      output.withUnsafeMutableScalars { out in
        Tensor<Scalar>.lastAxisStatistic(
          UnsafeBufferPointer(out), count: out.count, width: x.shape.last!, statistic: statistic, into: out)
      }
      return output
    case .scaleShift:
      let width = x.shape.last!
      return x.affinePerChannel(
        scale: parameters["gamma"]?.scalars ?? [Scalar](repeating: 1, count: width),
        shift: parameters["beta"]?.scalars ?? [Scalar](repeating: 0, count: width))
    }
  }
}
