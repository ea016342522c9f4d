import Graph

/// The layers of a NIR graph whose shapes depend on images: Flatten, Conv2d and the poolings,
/// checked and prepared (``NIRGraph/init(nodes:edges:dt:)``).
extension NIRGraph {
  /// Flatten over the non-batch dimensions, as nir's own type inference counts them.
  static func flattened(_ node: RawNode, _ p: NIRParameters, input: [Int]) throws -> [Int] {
    var shape = input
    if let stated = try p.optionalIntegers("input_type"), !stated.isEmpty {
      guard stated.reduce(1, *) == input.reduce(1, *) else {
        throw NIRGraphError(
          node: node.name,
          "'input_type' \(text(stated)) does not hold the \(input.reduce(1, *)) values of its input")
      }
      shape = stated
    }
    let rank = shape.count
    var start = try p.integer("start_dim")
    var end = try p.integer("end_dim")
    if start < 0 { start += rank }
    if end < 0 { end += rank }
    guard 0 <= start, start <= end, end < rank else {
      throw NIRGraphError(
        node: node.name,
        "start_dim \(try p.integer("start_dim")) to end_dim \(try p.integer("end_dim")) is no range of the dimensions of \(text(shape))"
      )
    }
    return Array(shape[..<start]) + [shape[start...end].reduce(1, *)] + Array(shape[(end + 1)...])
  }

  /// The input as `C×H×W`: a 3-D input as it is, or a flat one with the stated `input_shape`.
  static func image(
    _ node: RawNode, input: [Int], channels: Int?, stated: [Int]?
  ) throws -> (c: Int, h: Int, w: Int) {
    if input.count == 3 {
      if let stated, stated.count == 2, stated != Array(input[1...]) {
        throw NIRGraphError(
          node: node.name, "'input_shape' \(text(stated)) contradicts its input \(text(input))")
      }
      return (input[0], input[1], input[2])
    }
    if let stated, stated.count == 2, let channels, channels * stated[0] * stated[1] == input.reduce(1, *) {
      return (channels, stated[0], stated[1])
    }
    throw NIRGraphError(node: node.name, "needs a C×H×W input, got \(text(input))")
  }

  static func convolution(_ node: RawNode, _ p: NIRParameters, input: [Int]) throws -> (Operation, [Int]) {
    let (wShape, weight) = try p.floats("weight")
    guard wShape.count == 4 else {
      throw NIRGraphError(node: node.name, "'weight' must be out × in × kH × kW, got \(text(wShape))")
    }
    let groups = try p.integer("groups")
    guard groups >= 1, wShape[0] % groups == 0 else {
      throw NIRGraphError(
        node: node.name, "'groups' \(groups) does not divide the \(wShape[0]) output channels")
    }
    let (c, h, w) = try image(
      node, input: input, channels: wShape[1] * groups, stated: try p.optionalIntegers("input_shape"))
    guard c == wShape[1] * groups else {
      throw NIRGraphError(
        node: node.name,
        "'weight' \(text(wShape)) with \(groups) group(s) takes \(wShape[1] * groups) channels; the input has \(c)"
      )
    }
    let stride = try p.pair("stride")
    let dilation = try p.pair("dilation")
    guard stride.0 >= 1, stride.1 >= 1, dilation.0 >= 1, dilation.1 >= 1 else {
      throw NIRGraphError(node: node.name, "'stride' and 'dilation' must be positive")
    }
    let span = (dilation.0 * (wShape[2] - 1) + 1, dilation.1 * (wShape[3] - 1) + 1)
    let padding: (top: Int, left: Int, height: Int, width: Int)
    if case .string(let mode)? = node.parameters["padding"] {
      switch mode {
      case "valid": padding = (0, 0, 0, 0)
      case "same":
        guard stride == (1, 1) else {
          throw NIRGraphError(node: node.name, "padding 'same' needs stride 1 (as in PyTorch), got \(stride)")
        }
        padding = ((span.0 - 1) / 2, (span.1 - 1) / 2, span.0 - 1, span.1 - 1)
      default:
        throw NIRGraphError(node: node.name, "'padding' \"\(mode)\" is not 'same', 'valid' or a number")
      }
    } else {
      let pad = try p.pair("padding")
      guard pad.0 >= 0, pad.1 >= 0 else {
        throw NIRGraphError(node: node.name, "'padding' must not be negative")
      }
      padding = (pad.0, pad.1, 2 * pad.0, 2 * pad.1)
    }
    let (oh, ow) = ((h + padding.height - span.0) / stride.0 + 1, (w + padding.width - span.1) / stride.1 + 1)
    guard h + padding.height >= span.0, w + padding.width >= span.1 else {
      throw NIRGraphError(
        node: node.name, "the kernel \(wShape[2])×\(wShape[3]) does not fit the input \(h)×\(w)")
    }
    let (bShape, bias) = try p.floats("bias")
    guard bias.count == wShape[0] || (bias.count == 1 && bShape.isEmpty) else {
      throw NIRGraphError(node: node.name, "'bias' must hold \(wShape[0]) values, got \(text(bShape))")
    }
    let convolution = Convolution(
      weight: weight, bias: bias.count == wShape[0] ? bias : [Float](repeating: bias[0], count: wShape[0]),
      inChannels: c, outChannels: wShape[0], groups: groups,
      kernelHeight: wShape[2], kernelWidth: wShape[3], strideHeight: stride.0, strideWidth: stride.1,
      dilationHeight: dilation.0, dilationWidth: dilation.1, padTop: padding.top, padLeft: padding.left,
      inputHeight: h, inputWidth: w, outputHeight: oh, outputWidth: ow,
      depthwise: Self.singleInputChannels(weight, shape: wShape, groups: groups))
    let shape = [wShape[0], oh, ow]
    guard Graph.elementCount(shape) != nil else {
      throw NIRGraphError(node: node.name, "its output \(text(shape)) is too large")
    }
    return (.convolution(convolution), shape)
  }

  /// For each output channel of a kernel `out × in/groups × kH × kW`, the one input channel its
  /// kernel does not hold only zeros for (the group's first when it holds none) with the
  /// non-zero taps; nil when some output channel reads several, or when every group has one
  /// input channel (its columns and GEMM are faster than going channel by channel).
  static func singleInputChannels(_ weight: [Float], shape: [Int], groups: Int) -> [ChannelTaps]? {
    let (out, groupIn, kernelWidth) = (shape[0], shape[1], shape[3])
    let window = shape[2] * kernelWidth
    guard groupIn > 1 else { return nil }
    var channels = [ChannelTaps]()
    for o in 0..<out {
      let group = o / (out / groups)
      var found: Int?
      var taps = [(row: Int, column: Int, weight: Float)]()
      for i in 0..<groupIn {
        let start = (o * groupIn + i) * window
        for k in 0..<window where weight[start + k] != 0 {
          guard found == nil || found == i else { return nil }
          found = i
          taps.append((k / kernelWidth, k % kernelWidth, weight[start + k]))
        }
      }
      channels.append(ChannelTaps(channel: group * groupIn + (found ?? 0), taps: taps))
    }
    return channels
  }

  static func pooling(_ node: RawNode, _ p: NIRParameters, input: [Int]) throws -> (Operation, [Int]) {
    let (c, h, w) = try image(node, input: input, channels: nil, stated: nil)
    let kernel = try p.pair("kernel_size")
    let stride = try p.pair("stride")
    let pad = try p.pair("padding")
    guard kernel.0 >= 1, kernel.1 >= 1, stride.0 >= 1, stride.1 >= 1, pad.0 >= 0, pad.1 >= 0 else {
      throw NIRGraphError(
        node: node.name, "'kernel_size' and 'stride' must be positive and 'padding' not negative")
    }
    guard h + 2 * pad.0 >= kernel.0, w + 2 * pad.1 >= kernel.1 else {
      throw NIRGraphError(
        node: node.name, "the window \(kernel.0)×\(kernel.1) does not fit the input \(h)×\(w)")
    }
    let pooling = Pooling(
      channels: c, kernelHeight: kernel.0, kernelWidth: kernel.1, strideHeight: stride.0,
      strideWidth: stride.1,
      padTop: pad.0, padLeft: pad.1, inputHeight: h, inputWidth: w,
      outputHeight: (h + 2 * pad.0 - kernel.0) / stride.0 + 1,
      outputWidth: (w + 2 * pad.1 - kernel.1) / stride.1 + 1,
      average: node.type == "AvgPool2d")
    return (.pooling(pooling), [c, pooling.outputHeight, pooling.outputWidth])
  }
}
