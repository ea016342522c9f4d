import Graph
import ONNXProto
import Tensor

extension ONNXGraphBuilder {
  /// Matrix products, arithmetic and normalizations: Gemm, MatMul, Add, Sub, Mul, Div, BatchNormalization, LayerNormalization, Softmax.
  /// Returns false for any other operator.
  mutating func addLinearOperator(_ n: ONNXNode) throws -> Bool {
    let (onnx, base, output) = (n.proto, n.base, n.output)
    switch onnx.opType {
    case "Gemm":
      let x = try plain(try requireValue(n, 0))
      guard x.shape.count == 1 else { throw failure("Gemm needs vectors, got per-sample shape \(x.shape)") }
      guard n.int("transA", 0) == 0 else { throw failure("transA = 1 is not supported") }
      let b = try requireConstant(n, 1, "weight B")
      guard b.dims.count == 2 else { throw failure("B must be a matrix, has dims \(b.dims)") }
      let transposed = n.int("transB", 0) == 1
      let (rows, columns) = (b.dims[0], b.dims[1])
      let (inputs, units) = transposed ? (columns, rows) : (rows, columns)
      guard inputs == x.shape[0] else { throw failure("B \(b.dims) does not fit inputs of \(x.shape[0])") }
      let alpha = Float(n.float("alpha", 1))
      let beta = Float(n.float("beta", 1))
      let kernel = [Float](unsafeUninitializedCapacity: inputs * units) { target, initialized in
        b.withFloats { source in
          for i in 0..<inputs {
            for j in 0..<units {
              target[i * units + j] = alpha * (transposed ? source[j * columns + i] : source[i * columns + j])
            }
          }
        }
        initialized = inputs * units
      }
      var parameters = ["kernel": Tensor<Float>(shape: [inputs, units], scalars: kernel)]
      if let c = operand(n, 2).constant {
        guard c.count == units || c.count == 1 else {
          throw failure("C of \(c.count) values for \(units) units")
        }
        parameters["bias"] = Tensor(
          shape: [units],
          scalars: c.count == 1
            ? [Float](repeating: beta * c.floats[0], count: units) : c.floats.map { beta * $0 })
      } else if operand(n, 2).value != nil {
        throw failure("C must be a constant")
      }
      let node = try emit(
        base, .dense(units: units, useBias: parameters["bias"] != nil), inputs: [x.node],
        parameters: parameters)
      set(n, node, .plain, [units])

    case "MatMul":
      let x = try plain(try requireValue(n, 0))
      let b = try requireConstant(n, 1, "second operand")
      guard x.shape.count >= 1, b.dims.count == 2, b.dims[0] == x.shape.last! else {
        throw failure("only a tensor times a constant matrix is supported (\(x.shape) × \(b.dims))")
      }
      let units = b.dims[1]
      let node = try emit(
        base, .dense(units: units, useBias: false), inputs: [x.node],
        parameters: ["kernel": Tensor(shape: b.dims, scalars: b.floats)])
      set(n, node, .plain, Array(x.shape.dropLast()) + [units])

    case "Add", "Sub", "Mul", "Div":
      if allConstant(n) {
        throw failure("arithmetic on constants alone is not folded")
      }
      let (a, b) = (operand(n, 0), operand(n, 1))
      if let left = a.value, let right = b.value {
        var (l, r) = (left, right)
        // A per-channel tensor (C×1×1) against an image (C×H×W) — a squeeze-and-excitation
        // gate — is repeated over the image first.
        if let image = try gated(l, r) { r = image } else if let image = try gated(r, l) { l = image }
        if l.layout != r.layout { (l, r) = (try plain(l), try plain(r)) }
        guard l.shape == r.shape else {
          throw failure(
            "\(onnx.opType) of tensors of shapes \(l.shape) and \(r.shape) (broadcasting is not supported)")
        }
        // Of two tensors: a sum, or a two-input function (docs/onnx.md).
        let op: Op =
          switch onnx.opType {
          case "Add": .add
          case "Sub": .binary(.subtract)
          case "Mul": .binary(.product)
          default: .binary(.division)
          }
        set(n, try emit(base, op, inputs: [l.node, r.node]), l.layout, l.shape)
        return true
      }
      let tensorFirst = a.value != nil
      guard var value = tensorFirst ? a.value : b.value, let constant = tensorFirst ? b.constant : a.constant
      else {
        throw failure("reads an input that no earlier node produces")
      }
      // A constant per channel of an image applies along the channels, held last.
      if value.shape.count == 3, !constant.isScalarLike { value = try channelsLast(value) }
      // A MatMul's bias: folded into it when nothing else reads the product.
      if onnx.opType == "Add", let last = nodes.last, last.name == value.node,
        case .dense(let units, false) = last.op, readers[onnx.input[tensorFirst ? 0 : 1]] == 1,
        constant.count == units
      {
        nodes[nodes.count - 1] = Node(
          name: last.name, op: .dense(units: units, useBias: true), inputs: last.inputs,
          parameters: last.parameters.merging(["bias": Tensor(shape: [units], scalars: constant.floats)]) {
            a, _ in a
          })
        values[output] = value
        return true
      }
      let channels = value.layout == .channelsLast ? value.shape[0] : value.shape.last!
      let perChannel = try channelVector(constant, channels: channels, value: value)
      var scale: [Float]?
      var shift: [Float]?
      switch (onnx.opType, tensorFirst) {
      case ("Add", _): shift = perChannel
      case ("Sub", true): shift = perChannel.map { -$0 }
      case ("Sub", false): (scale, shift) = ([Float](repeating: -1, count: channels), perChannel)
      case ("Mul", _): scale = perChannel
      case ("Div", true): scale = perChannel.map { 1 / $0 }
      default: throw failure("a constant divided by a tensor is not supported")
      }
      var parameters = [String: Tensor<Float>]()
      if let scale { parameters["gamma"] = Tensor(shape: [channels], scalars: scale) }
      if let shift { parameters["beta"] = Tensor(shape: [channels], scalars: shift) }
      set(
        n,
        try emit(
          base, .scaleShift(scale: scale != nil, shift: shift != nil), inputs: [value.node],
          parameters: parameters),
        value.layout, value.shape)

    case "BatchNormalization":
      let x = try requireValue(n, 0)
      let value = x.shape.count == 3 ? try channelsLast(x) : x
      guard value.shape.count == 1 || value.layout == .channelsLast else {
        throw failure("BatchNormalization of per-sample shape \(x.shape) is not supported")
      }
      let channels = value.shape[0]
      var parameters = [String: Tensor<Float>]()
      for (k, name) in [(1, "gamma"), (2, "beta"), (3, "moving_mean"), (4, "moving_variance")] {
        let c = try requireConstant(n, k, name)
        guard c.count == channels else {
          throw failure("\(name) has \(c.count) values for \(channels) channels")
        }
        parameters[name] = Tensor(shape: [channels], scalars: c.floats)
      }
      if n.int("training_mode", 0) != 0 { throw failure("training_mode = 1 is not supported") }
      let node = try emit(
        base, .batchNorm(epsilon: n.float("epsilon", 1e-5), center: true, scale: true), inputs: [value.node],
        parameters: parameters)
      set(n, node, value.layout, value.shape)

    case "LayerNormalization":
      let value = try plain(try requireValue(n, 0))
      let axis = n.int("axis", -1)
      guard axis == -1 || axis == value.shape.count else { throw failure("only the last axis is normalized") }
      let width = value.shape.last!
      let scale = try requireConstant(n, 1, "scale")
      var parameters = ["gamma": Tensor<Float>(shape: [width], scalars: scale.floats)]
      guard scale.count == width else { throw failure("scale has \(scale.count) values for \(width)") }
      if let bias = operand(n, 2).constant {
        guard bias.count == width else { throw failure("bias has \(bias.count) values for \(width)") }
        parameters["beta"] = Tensor(shape: [width], scalars: bias.floats)
      }
      let node = try emit(
        base, .layerNorm(epsilon: n.float("epsilon", 1e-5), center: parameters["beta"] != nil, scale: true),
        inputs: [value.node], parameters: parameters)
      set(n, node, .plain, value.shape)

    case "Softmax":
      let value = try plain(try requireValue(n, 0))
      let axis = n.int("axis", opset >= 13 ? -1 : 1)
      guard value.shape.count == 1, axis == -1 || axis == 1 else {
        throw failure("only a softmax over a vector's entries is supported")
      }
      set(n, try emit(base, .softmax, inputs: [value.node]), .plain, value.shape)

    default:
      return false
    }
    return true
  }
}
