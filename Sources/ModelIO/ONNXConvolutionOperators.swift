import Graph
import ONNXProto
import Tensor

extension ONNXGraphBuilder {
  /// Convolutions and pooling: Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean.
  /// Returns false for any other operator.
  mutating func addConvolutionOrPooling(_ n: ONNXNode) throws -> Bool {
    let (onnx, base) = (n.proto, n.base)
    switch onnx.opType {
    case "Conv":
      let x = try channelsLast(try requireValue(n, 0))
      let weight = try requireConstant(n, 1, "weight")
      let bias = operand(n, 2).constant
      if operand(n, 2).value != nil { throw failure("its bias must be a constant") }
      guard weight.dims.count == 4 else {
        throw failure("only 2-D convolutions (a 4-D weight) are supported, the weight is \(weight.dims)")
      }
      let groups = n.int("group", 1)
      let (filters, perGroup, kh, kw) = (weight.dims[0], weight.dims[1], weight.dims[2], weight.dims[3])
      let channels = x.shape[0]
      guard groups >= 1, channels % groups == 0, perGroup * groups == channels, filters % groups == 0 else {
        throw failure("weight \(weight.dims) with group \(groups) does not fit \(channels) input channels")
      }
      if let kernel = n.ints("kernel_shape"), kernel != [kh, kw] {
        throw failure("kernel_shape \(kernel) contradicts the weight's \([kh, kw])")
      }
      let strides = n.ints("strides") ?? [1, 1]
      let dilations = n.ints("dilations") ?? [1, 1]
      guard strides.count == 2, dilations.count == 2, strides.allSatisfy({ $0 >= 1 }),
        dilations.allSatisfy({ $0 >= 1 })
      else { throw failure("strides \(strides) and dilations \(dilations) must be two positive numbers") }
      if let bias, bias.count != filters {
        throw failure("bias of \(bias.count) values for \(filters) filters")
      }
      let spanned = [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1]
      let (padded, padding) = try window(
        x, kernel: spanned, strides: strides, pads: n.ints("pads"), autoPad: n.string("auto_pad"), pool: nil)
      // O×I×kH×kW → kH×kW×I×O.
      let kernel = [Float](unsafeUninitializedCapacity: weight.count) { target, initialized in
        weight.withFloats { source in
          // Writes run along the filters; the reads for one input channel stay in cache.
          let taps = kh * kw
          for i in 0..<perGroup {
            for tap in 0..<taps {
              let row = (tap * perGroup + i) * filters
              for o in 0..<filters { target[row + o] = source[(o * perGroup + i) * taps + tap] }
            }
          }
        }
        initialized = weight.count
      }
      var parameters = ["kernel": Tensor<Float>(shape: [kh, kw, perGroup, filters], scalars: kernel)]
      if let bias { parameters["bias"] = Tensor(shape: [filters], scalars: bias.floats) }
      let attributes = Conv2DAttributes(
        filters: filters, kernelSize: [kh, kw], strides: strides, padding: padding, useBias: bias != nil,
        dilation: dilations, groups: groups)
      let node = try emit(base, .conv2d(attributes), inputs: [padded.node], parameters: parameters)
      let out = shapes[node]!
      set(n, node, .channelsLast, [out[2], out[0], out[1]])

    case "ConvTranspose":
      // The whole transposed convolution ((H − 1)·s + k rows), then cropped by its pads and
      // extended by output_padding, as ONNX defines the output.
      let x = try channelsLast(try requireValue(n, 0))
      let weight = try requireConstant(n, 1, "weight")
      let bias = operand(n, 2).constant
      if operand(n, 2).value != nil { throw failure("its bias must be a constant") }
      guard weight.dims.count == 4 else {
        throw failure(
          "only 2-D transposed convolutions (a 4-D weight) are supported, the weight is \(weight.dims)")
      }
      guard n.int("group", 1) == 1 else { throw failure("grouped transposed convolutions are not supported") }
      if let dilations = n.ints("dilations"), dilations.contains(where: { $0 != 1 }) {
        throw failure("dilated transposed convolutions are not supported")
      }
      if n.ints("output_shape") != nil {
        throw failure("output_shape is not supported (export with pads instead)")
      }
      let (channels, filters, kh, kw) = (weight.dims[0], weight.dims[1], weight.dims[2], weight.dims[3])
      guard channels == x.shape[0] else {
        throw failure("weight \(weight.dims) does not fit \(x.shape[0]) input channels")
      }
      if let kernel = n.ints("kernel_shape"), kernel != [kh, kw] {
        throw failure("kernel_shape \(kernel) contradicts the weight's \([kh, kw])")
      }
      if let bias, bias.count != filters {
        throw failure("bias of \(bias.count) values for \(filters) filters")
      }
      let strides = n.ints("strides") ?? [1, 1]
      let extra = n.ints("output_padding") ?? [0, 0]
      guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }), extra.count == 2,
        zip(extra, strides).allSatisfy({ $0 >= 0 && $0 < $1 })
      else {
        throw failure(
          "strides \(strides) and output_padding \(extra) must be two numbers, 0 ≤ output_padding < stride")
      }
      let sizes = [x.shape[1], x.shape[2]]
      let full = [(sizes[0] - 1) * strides[0] + kh, (sizes[1] - 1) * strides[1] + kw]
      // pads: [top, left, bottom, right].
      var pads: [Int]
      switch n.string("auto_pad") ?? "NOTSET" {
      case "NOTSET": pads = n.ints("pads") ?? [0, 0, 0, 0]
      case "VALID": pads = [0, 0, 0, 0]
      case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
        let total = (0..<2).map { max(full[$0] + extra[$0] - sizes[$0] * strides[$0], 0) }
        let first = total.map { mode == "SAME_UPPER" ? $0 / 2 : $0 - $0 / 2 }
        pads = [first[0], first[1], total[0] - first[0], total[1] - first[1]]
      case let mode: throw failure("auto_pad \(mode) is not supported")
      }
      guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else {
        throw failure("pads \(pads) must be four numbers ≥ 0")
      }
      // Cin×Cout×kH×kW → kH×kW×Cout×Cin (Keras's Conv2DTranspose layout).
      let kernel = [Float](unsafeUninitializedCapacity: weight.count) { target, initialized in
        weight.withFloats { source in
          for c in 0..<channels {
            for f in 0..<filters {
              for tap in 0..<(kh * kw) {
                target[(tap * filters + f) * channels + c] = source[(c * filters + f) * kh * kw + tap]
              }
            }
          }
        }
        initialized = weight.count
      }
      let (endRows, endColumns) = (pads[2] - extra[0], pads[3] - extra[1])
      // Rows added by output_padding past the whole output hold the bias alone: the bias then
      // comes after them.
      let biasLast = bias != nil && (endRows < 0 || endColumns < 0)
      var parameters = ["kernel": Tensor<Float>(shape: [kh, kw, filters, channels], scalars: kernel)]
      if let bias, !biasLast { parameters["bias"] = Tensor(shape: [filters], scalars: bias.floats) }
      var node = try emit(
        base,
        .conv2dTranspose(
          Conv2DAttributes(
            filters: filters, kernelSize: [kh, kw], strides: strides, useBias: bias != nil && !biasLast)),
        inputs: [x.node], parameters: parameters)
      if pads[0] > 0 || pads[1] > 0 || endRows > 0 || endColumns > 0 {
        node = try emit(
          base + "_crop",
          .crop2d(top: pads[0], bottom: max(endRows, 0), left: pads[1], right: max(endColumns, 0)),
          inputs: [node])
      }
      if endRows < 0 || endColumns < 0 {
        node = try emit(
          base + "_extra", .zeroPad2d(top: 0, bottom: max(-endRows, 0), left: 0, right: max(-endColumns, 0)),
          inputs: [node])
      }
      if biasLast, let bias {
        node = try emit(
          base + "_bias", .scaleShift(scale: false, shift: true), inputs: [node],
          parameters: ["beta": Tensor(shape: [filters], scalars: bias.floats)])
      }
      let out = shapes[node]!
      set(n, node, .channelsLast, [out[2], out[0], out[1]])

    case "MaxPool", "AveragePool":
      let x = try channelsLast(try requireValue(n, 0))
      guard let kernel = n.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
        throw failure("only 2-D pooling with a kernel_shape of two positive sizes is supported")
      }
      if let dilations = n.ints("dilations"), dilations.contains(where: { $0 != 1 }) {
        throw failure("dilated pooling is not supported")
      }
      let strides = n.ints("strides") ?? [1, 1]
      guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }) else { throw failure("strides \(strides)") }
      let mode: PoolingMode = onnx.opType == "MaxPool" ? .max : .average
      let (padded, padding) = try window(
        x, kernel: kernel, strides: strides, pads: n.ints("pads"), autoPad: n.string("auto_pad"),
        pool: (mode, n.int("count_include_pad", 0) == 1, n.int("ceil_mode", 0) == 1))
      let node = try emit(
        base, .pool2d(Pool2DAttributes(mode: mode, size: kernel, strides: strides, padding: padding)),
        inputs: [padded.node])
      let out = shapes[node]!
      set(n, node, .channelsLast, [out[2], out[0], out[1]])

    case "GlobalAveragePool", "GlobalMaxPool", "ReduceMean":
      let x = try requireValue(n, 0)
      var keep = n.int("keepdims", 1) == 1
      if onnx.opType == "ReduceMean" {
        var axes = n.ints("axes")
        if axes == nil, let given = operand(n, 1).constant { axes = given.integers }
        let rank = x.shape.count + 1
        let resolved = Set((axes ?? []).map { $0 < 0 ? $0 + rank : $0 })
        guard rank == 4, resolved == [2, 3] else {
          throw failure("only ReduceMean over an image's height and width (axes 2, 3) is supported")
        }
      } else {
        keep = true
      }
      let image = try channelsLast(x)
      let channels = image.shape[0]
      var node: String
      if onnx.opType == "GlobalMaxPool" {
        node = try emit(
          base, .pool2d(Pool2DAttributes(mode: .max, size: [image.shape[1], image.shape[2]])),
          inputs: [image.node])
        if !keep { node = try emit(base + "_flat", .reshape([channels]), inputs: [node]) }
      } else {
        node = try emit(base, .globalAveragePool2d, inputs: [image.node])
        if keep { node = try emit(base + "_image", .reshape([1, 1, channels]), inputs: [node]) }
      }
      if keep { set(n, node, .channelsLast, [channels, 1, 1]) } else { set(n, node, .plain, [channels]) }

    default:
      return false
    }
    return true
  }

  /// The input of a sliding window (padded explicitly where needed) and the padding mode: ONNX
  /// `pads` (`[top, left, bottom, right]`) or `auto_pad`, matched to "same" or "valid" where
  /// they are, else zero rows and columns added first. `pool`: (mode, count_include_pad,
  /// ceil_mode) for pooling, where padding is not always zeros.
  mutating func window(
    _ x: ONNXValue, kernel: [Int], strides: [Int], pads: [Int]?, autoPad: String?,
    pool: (mode: PoolingMode, includePad: Bool, ceil: Bool)?
  ) throws -> (ONNXValue, Padding) {
    let (height, width) = (x.shape[1], x.shape[2])
    func samePads(_ size: Int, _ k: Int, _ s: Int) -> (Int, Int) {
      let out = (size + s - 1) / s
      let total = max((out - 1) * s + k - size, 0)
      return (total / 2, total - total / 2)
    }
    var explicit: [Int]
    switch autoPad ?? "NOTSET" {
    case "NOTSET", "":
      explicit = pads ?? [0, 0, 0, 0]
      guard explicit.count == 4, explicit.allSatisfy({ $0 >= 0 }) else {
        throw failure("pads \(explicit) must be four non-negative numbers")
      }
    case "VALID": explicit = [0, 0, 0, 0]
    case "SAME_UPPER", "SAME_LOWER":
      let (top, bottom) = samePads(height, kernel[0], strides[0])
      let (left, right) = samePads(width, kernel[1], strides[1])
      explicit = autoPad == "SAME_UPPER" ? [top, left, bottom, right] : [bottom, right, top, left]
    case let other: throw failure("auto_pad '\(other)' is not supported")
    }
    if let pool, pool.ceil {
      // ceil_mode changes nothing where the windows fit exactly.
      for (axis, size) in [(0, height), (1, width)] {
        let span = size + explicit[axis] + explicit[axis + 2] - kernel[axis]
        if span >= 0, span % strides[axis] != 0 {
          throw failure("ceil_mode = 1 is not supported where it adds a partial window")
        }
      }
    }
    if explicit == [0, 0, 0, 0] { return (x, .valid) }
    let (top, bottom) = samePads(height, kernel[0], strides[0])
    let (left, right) = samePads(width, kernel[1], strides[1])
    let outputsMatch =
      (height + explicit[0] + explicit[2] - kernel[0]) / strides[0] == (height + top + bottom - kernel[0])
      / strides[0]
      && (width + explicit[1] + explicit[3] - kernel[1]) / strides[1] == (width + left + right - kernel[1])
        / strides[1]
    let same = explicit[0] == top && explicit[1] == left && outputsMatch
    if let pool {
      // "same" pooling ignores the padding, as ONNX max pooling and average pooling without
      // count_include_pad do.
      if same && (pool.mode == .max || !pool.includePad) { return (x, .same) }
      if pool.mode == .average && !pool.includePad {
        throw failure("average pooling whose padding is not counted is supported only with \"same\" padding")
      }
      if pool.mode == .max, !producesNonNegative(x.node) {
        throw failure(
          "max pooling with padding \(explicit) is supported only after a ReLU (where zero padding changes nothing)"
        )
      }
    } else if same {
      return (x, .same)
    }
    let node = try emit(
      x.node + "_pad",
      .zeroPad2d(top: explicit[0], bottom: explicit[2], left: explicit[1], right: explicit[3]),
      inputs: [x.node])
    return (
      ONNXValue(
        node: node, layout: .channelsLast,
        shape: [x.shape[0], height + explicit[0] + explicit[2], width + explicit[1] + explicit[3]]), .valid
    )
  }

  /// Whether the node's values are never negative (a ReLU or a clip from 0, through layout
  /// nodes and max pooling).
  func producesNonNegative(_ name: String) -> Bool {
    guard let node = nodes.last(where: { $0.name == name }) else { return false }
    switch node.op {
    case .activation(.relu), .activation(.sigmoid), .activation(.softplus): return true
    case .activation(.clippedRelu(_, let slope, let threshold)): return slope == 0 && threshold >= 0
    case .permute, .reshape, .flatten, .zeroPad2d, .pool2d: return producesNonNegative(node.inputs[0])
    default: return false
    }
  }
}
