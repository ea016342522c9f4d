import Graph
import ONNXProto
import Tensor

extension ONNXGraphBuilder {
  /// Elementwise functions: Erf (a step of GELU written out), PRelu, and the activations (Relu,
  /// LeakyRelu, Sigmoid, Tanh, Elu, Softplus, HardSwish, Gelu, Clip from 0, HardSigmoid).
  /// - Throws: naming the operator, for one no reader supports.
  mutating func addActivation(_ n: ONNXNode) throws {
    let (onnx, base, output, attributes) = (n.proto, n.base, n.output, n.attributes)
    switch onnx.opType {
    case "Erf":
      // Only as a step of GELU: erf of x/√2.
      let value = try requireValue(n, 0)
      guard let (x, factor) = scaled(value), abs(factor - 1 / 2.0.squareRoot()) < 1e-4 else {
        throw failure("Erf is supported only in GELU, x · 0.5 · (1 + erf(x/√2))")
      }
      gelu[output] = (x, .erf)

    case "PRelu":
      var value = try requireValue(n, 0)
      let slope = try requireConstant(n, 1, "slope")
      if slope.isScalarLike || Set(slope.floats).count == 1 {
        set(
          n,
          try emit(base, .activation(.leakyRelu(slope: Double(slope.floats[0]))), inputs: [value.node]),
          value.layout, value.shape)
        return
      }
      // One slope per channel: relu(x) − s·relu(−x), from ops that convert.
      if value.shape.count == 3 { value = try channelsLast(value) }
      let channels = value.layout == .channelsLast ? value.shape[0] : value.shape.last!
      let slopes = try channelVector(slope, channels: channels, value: value)
      let positive = try emit(base + "_pos", .activation(.relu), inputs: [value.node])
      let negated = try emit(
        base + "_neg", .scaleShift(scale: true, shift: false), inputs: [value.node],
        parameters: ["gamma": Tensor(shape: [channels], scalars: [Float](repeating: -1, count: channels))])
      let negative = try emit(base + "_negrelu", .activation(.relu), inputs: [negated])
      let sloped = try emit(
        base + "_slope", .scaleShift(scale: true, shift: false), inputs: [negative],
        parameters: ["gamma": Tensor(shape: [channels], scalars: slopes.map { -$0 })])
      set(n, try emit(base, .add, inputs: [positive, sloped]), value.layout, value.shape)

    default:
      let function: UnaryFunction
      switch onnx.opType {
      case "Relu": function = .relu
      case "LeakyRelu": function = .leakyRelu(slope: n.float("alpha", 0.01))
      case "Sigmoid": function = .sigmoid
      case "Tanh": function = .tanh
      case "Elu": function = .elu(alpha: n.float("alpha", 1))
      case "Softplus": function = .softplus
      case "HardSwish": function = .hardSwish
      case "Gelu":
        switch n.string("approximate") ?? "none" {
        case "none": function = .gelu(.exact)
        case "tanh": function = .gelu(.tanh)
        case let other: throw failure("Gelu approximation '\(other)' is not supported")
        }
      case "Clip":
        var low = attributes["min"].map { Double($0.f) }
        var high = attributes["max"].map { Double($0.f) }
        if let given = operand(n, 1).constant { low = Double(given.floats[0]) }
        if let given = operand(n, 2).constant { high = Double(given.floats[0]) }
        if operand(n, 1).value != nil || operand(n, 2).value != nil {
          throw failure("Clip bounds must be constants")
        }
        guard low == 0 else {
          throw failure(
            "only Clip from 0 (ReLU, ReLU6) is supported, min is \(low.map { "\($0)" } ?? "none")")
        }
        function = high.map { .clippedRelu(maxValue: $0, negativeSlope: 0, threshold: 0) } ?? .relu
      case "HardSigmoid":
        let value = try requireValue(n, 0)
        let channels = value.layout == .channelsLast ? value.shape[0] : value.shape.last!
        let alpha = Float(n.float("alpha", 0.2))
        let beta = Float(n.float("beta", 0.5))
        let scaled = try emit(
          base + "_affine", .scaleShift(scale: true, shift: true), inputs: [value.node],
          parameters: [
            "gamma": Tensor(shape: [channels], scalars: [Float](repeating: alpha, count: channels)),
            "beta": Tensor(shape: [channels], scalars: [Float](repeating: beta, count: channels)),
          ])
        let node = try emit(
          base, .activation(.clippedRelu(maxValue: 1, negativeSlope: 0, threshold: 0)), inputs: [scaled])
        set(n, node, value.layout, value.shape)
        return
      default:
        throw failure(
          "\(onnx.opType) is not supported; supported: \(ONNXModelReader.supportedOps.joined(separator: ", "))"
        )
      }
      let value = try requireValue(n, 0)
      set(n, try emit(base, .activation(function), inputs: [value.node]), value.layout, value.shape)
    }
  }

  /// An `Add` or `Mul` reading a step of GELU written out with Erf: the next step, or GELU
  /// itself once the formula is complete.
  mutating func addGELUStep(_ onnx: Onnx_NodeProto, base: String, output: String) throws {
    guard onnx.input.count == 2 else { throw failure("\(onnx.opType) needs two inputs") }
    let k = onnx.input.firstIndex { gelu[$0] != nil }!
    let (x, stage) = gelu[onnx.input[k]]!
    let other = (value: values[onnx.input[1 - k]], constant: constants[onnx.input[1 - k]])
    func set(_ node: String, _ layout: ONNXValue.Layout, _ shape: [Int]) {
      values[output] = ONNXValue(node: node, layout: layout, shape: shape)
    }
    switch (onnx.opType, stage) {
    case ("Add", .erf) where other.constant.map({ $0.isScalarLike && $0.floats[0] == 1 }) ?? false:
      gelu[output] = (x, .onePlusErf)
    case ("Mul", .onePlusErf) where other.value?.node == x.node:
      gelu[output] = (x, .product)
    case ("Mul", .onePlusErf)
    where other.value.flatMap(scaled).map({ $0.0.node == x.node && $0.1 == 0.5 }) ?? false:
      set(try emit(base, .activation(.gelu(.exact)), inputs: [x.node]), x.layout, x.shape)
    case ("Mul", .product) where other.constant.map({ $0.isScalarLike && $0.floats[0] == 0.5 }) ?? false:
      set(try emit(base, .activation(.gelu(.exact)), inputs: [x.node]), x.layout, x.shape)
    default:
      throw failure(
        "Erf is supported only in GELU, x · 0.5 · (1 + erf(x/√2)); this \(onnx.opType) is not a step of it")
    }
  }

  /// The x and c of a value computed as `x·c` (a scale-shift node with one scale for every
  /// channel and no shift), if it is one.
  func scaled(_ value: ONNXValue) -> (ONNXValue, Double)? {
    guard let node = nodes.last(where: { $0.name == value.node }), case .scaleShift(true, false) = node.op,
      let gamma = node.parameters["gamma"]?.scalars, let first = gamma.first,
      gamma.allSatisfy({ $0 == first }),
      let source = values.values.first(where: { $0.node == node.inputs[0] && $0.layout == value.layout })
    else { return nil }
    return (source, Double(first))
  }
}
