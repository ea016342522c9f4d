import Graph
import Tensor

/// What translating one Keras layer may need beyond its config: the nodes it reads and their
/// shapes, unique names for the extra nodes it adds, and its weights.
struct KerasLayerContext {
  let inputs: [String]
  let inputShapes: [[Int]]
  /// A node name not yet used, built from the given one.
  let name: (String) -> String
  /// Reads the layer's weights: names and shapes, −1 for a dimension not checked.
  let weights: ([(name: String, shape: [Int])]) throws -> [String: Tensor<Float>]
}

/// The Keras layers whose translation depends on their input's shape or takes several nodes:
/// depthwise and separable convolutions (grouped convolutions), the 1-D layers (their 2-D form
/// on a `(1, length, channels)` view), global max pooling (a max pooling over the whole image),
/// Rescaling, Normalization and PReLU (constant per-channel affine maps around a ReLU).
extension KerasLayerTranslator {
  /// The nodes `layer` becomes, in order (the last holds its output) with the activation to
  /// apply after them; nil for a layer ``translate(_:)`` handles alone.
  func composite(_ layer: KerasLayer, _ context: KerasLayerContext) throws -> (
    nodes: [Node], activation: Op?
  )? {
    let input = context.inputShapes.first ?? []
    let source = context.inputs.first ?? ""
    var builder = NodeChain(context, file: file)
    switch layer.className {
    case "DepthwiseConv2D":
      try requireChannelsLast(layer)
      try requireRank(layer, input, 3)
      let (channels, multiplier) = (input[2], try positiveInt(layer, "depth_multiplier", default: 1))
      let kernelSize = try ints(layer, "kernel_size", count: 2)
      let useBias = layer.config["use_bias"]?.bool ?? true
      let weights = try context.weights(
        [("depthwise_kernel", kernelSize + [channels, multiplier])]
          + (useBias ? [("bias", [channels * multiplier])] : []))
      // (kH, kW, C, m) in row-major order is the grouped kernel (kH, kW, 1, C·m): filter c·m + j
      // of group c is multiplier j of channel c, Keras's output order.
      var parameters = [
        "kernel": weights["depthwise_kernel"]!.reshaped(kernelSize + [1, channels * multiplier])
      ]
      parameters["bias"] = weights["bias"]
      try builder.append(
        layer.name,
        .conv2d(
          Conv2DAttributes(
            filters: channels * multiplier, kernelSize: kernelSize, strides: try strides(layer, count: 2),
            padding: try padding(layer), useBias: useBias, dilation: try dilation(layer, count: 2),
            groups: channels)),
        parameters: parameters)
      return (builder.nodes, try activation(layer, layer.config["activation"]))
    case "SeparableConv2D":
      try requireChannelsLast(layer)
      try requireRank(layer, input, 3)
      let channels = input[2]
      let multiplier = try positiveInt(layer, "depth_multiplier", default: 1)
      let filters = try positiveInt(layer, "filters", default: nil)
      let kernelSize = try ints(layer, "kernel_size", count: 2)
      let useBias = layer.config["use_bias"]?.bool ?? true
      let weights = try context.weights(
        [
          ("depthwise_kernel", kernelSize + [channels, multiplier]),
          ("pointwise_kernel", [1, 1, channels * multiplier, filters]),
        ] + (useBias ? [("bias", [filters])] : []))
      try builder.append(
        context.name("\(layer.name)_depthwise"),
        .conv2d(
          Conv2DAttributes(
            filters: channels * multiplier, kernelSize: kernelSize, strides: try strides(layer, count: 2),
            padding: try padding(layer), useBias: false, dilation: try dilation(layer, count: 2),
            groups: channels)),
        parameters: [
          "kernel": weights["depthwise_kernel"]!.reshaped(kernelSize + [1, channels * multiplier])
        ])
      var parameters = ["kernel": weights["pointwise_kernel"]!]
      parameters["bias"] = weights["bias"]
      try builder.append(
        layer.name, .conv2d(Conv2DAttributes(filters: filters, kernelSize: [1, 1], useBias: useBias)),
        parameters: parameters)
      return (builder.nodes, try activation(layer, layer.config["activation"]))
    case "Conv1D":
      try requireChannelsLast(layer)
      try requireRank(layer, input, 2)
      let filters = try positiveInt(layer, "filters", default: nil)
      let groups = try positiveInt(layer, "groups", default: 1)
      let width = try ints(layer, "kernel_size", count: 1)[0]
      let rate = try dilation(layer, count: 1)[0]
      let useBias = layer.config["use_bias"]?.bool ?? true
      guard input[1] % groups == 0 else { throw unsupported(layer, "groups", layer.config["groups"]) }
      let weights = try context.weights(
        [("kernel", [width, input[1] / groups, filters])] + (useBias ? [("bias", [filters])] : []))
      try builder.append(context.name("\(layer.name)_2d"), .reshape([1] + input), parameters: [:])
      let paddingValue = layer.config["padding"]?.string?.lowercased()
      var padding = Padding.valid
      if paddingValue == "causal" {
        // Causal: (k − 1)·d zeros before the sequence, then a valid convolution.
        try builder.append(
          context.name("\(layer.name)_causal"),
          .zeroPad2d(top: 0, bottom: 0, left: (width - 1) * rate, right: 0),
          parameters: [:])
      } else {
        padding = try self.padding(layer)
      }
      var parameters = ["kernel": weights["kernel"]!.reshaped([1, width, input[1] / groups, filters])]
      parameters["bias"] = weights["bias"]
      try builder.append(
        layer.name,
        .conv2d(
          Conv2DAttributes(
            filters: filters, kernelSize: [1, width], strides: [1, try strides(layer, count: 1)[0]],
            padding: padding, useBias: useBias, dilation: [1, rate], groups: groups)),
        parameters: parameters)
      try builder.append(
        context.name("\(layer.name)_1d"), .reshape(Array(builder.shape.dropFirst())), parameters: [:])
      return (builder.nodes, try activation(layer, layer.config["activation"]))
    case "MaxPooling1D", "AveragePooling1D":
      try requireChannelsLast(layer)
      try requireRank(layer, input, 2)
      let size = try ints(layer, "pool_size", count: 1)[0]
      let stride = (layer.config["strides"]?.isNull ?? true) ? size : try ints(layer, "strides", count: 1)[0]
      let mode: PoolingMode = layer.className == "MaxPooling1D" ? .max : .average
      try builder.append(context.name("\(layer.name)_2d"), .reshape([1] + input), parameters: [:])
      try builder.append(
        layer.name,
        .pool2d(
          Pool2DAttributes(mode: mode, size: [1, size], strides: [1, stride], padding: try padding(layer))),
        parameters: [:])
      try builder.append(
        context.name("\(layer.name)_1d"), .reshape(Array(builder.shape.dropFirst())), parameters: [:])
      return (builder.nodes, nil)
    case "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D":
      try requireChannelsLast(layer)
      let planar = layer.className.hasSuffix("2D")
      try requireRank(layer, input, planar ? 3 : 2)
      if !planar {
        try builder.append(context.name("\(layer.name)_2d"), .reshape([1] + input), parameters: [:])
      }
      let image = builder.shape
      let keepdims = layer.config["keepdims"]?.bool ?? false
      if layer.className.hasPrefix("GlobalMax") {
        // A max pooling whose one window is the whole image: converted like any max pooling.
        try builder.append(
          layer.name,
          .pool2d(Pool2DAttributes(mode: .max, size: [image[0], image[1]], strides: [image[0], image[1]])),
          parameters: [:])
        if !keepdims { try builder.append(context.name("\(layer.name)_flat"), .flatten, parameters: [:]) }
      } else {
        try builder.append(layer.name, .globalAveragePool2d, parameters: [:])
        if keepdims {
          try builder.append(
            context.name("\(layer.name)_keepdims"), .reshape((planar ? [1, 1] : [1]) + [image[2]]),
            parameters: [:])
        }
      }
      if keepdims && !planar && layer.className.hasPrefix("GlobalMax") {
        try builder.append(context.name("\(layer.name)_1d"), .reshape([1, image[2]]), parameters: [:])
      }
      return (builder.nodes, nil)
    case "ZeroPadding1D", "Cropping1D":
      try requireRank(layer, input, 2)
      let key = layer.className == "ZeroPadding1D" ? "padding" : "cropping"
      let amounts = try sides(layer, key, dimensions: 1)
      try builder.append(context.name("\(layer.name)_2d"), .reshape([1] + input), parameters: [:])
      try builder.append(
        layer.name,
        key == "padding"
          ? .zeroPad2d(top: 0, bottom: 0, left: amounts[0], right: amounts[1])
          : .crop2d(top: 0, bottom: 0, left: amounts[0], right: amounts[1]),
        parameters: [:])
      try builder.append(
        context.name("\(layer.name)_1d"), .reshape(Array(builder.shape.dropFirst())), parameters: [:])
      return (builder.nodes, nil)
    case "CenterCrop", "RandomCrop":
      // At inference CenterCrop keeps the middle `height × width` (the extra row or column at
      // the bottom and right when the margin is odd); RandomCrop of the input's own size is the
      // identity. Anything that resizes is refused: its interpolation is no affine selection
      // this reader models.
      try requireRank(layer, input, 3)
      let height = try positiveInt(layer, "height", default: nil)
      let width = try positiveInt(layer, "width", default: nil)
      if height == input[0] && width == input[1] {
        try builder.append(layer.name, .dropout(rate: 0), parameters: [:])
        return (builder.nodes, nil)
      }
      guard layer.className == "CenterCrop", height <= input[0], width <= input[1] else {
        throw ModelIOError.unsupportedSetting(
          file: file, layer: layer.name, setting: "height, width",
          value:
            "\(height)×\(width) on a \(input[0])×\(input[1]) input (\(layer.className) then resizes; only a center crop to a smaller size or a crop to the input's own size is read)"
        )
      }
      let (top, left) = ((input[0] - height) / 2, (input[1] - width) / 2)
      try builder.append(
        layer.name,
        .crop2d(top: top, bottom: input[0] - height - top, left: left, right: input[1] - width - left),
        parameters: [:])
      return (builder.nodes, nil)
    case let name
    where ["Add", "Subtract", "Multiply", "TrueDivide", "Divide"].contains(name) && !layer.constants.isEmpty:
      // Arithmetic with a number, as Keras 3 saves `x + 3.0`, `x * 0.5`, `1.0 - x` or `x / 6.0`:
      // a constant affine map.
      guard let channels = input.last, layer.constants.count == 1, context.inputs.count == 1,
        let constant = layer.constants[0].value.double, constant.isFinite
      else {
        throw unsupported(
          layer, "arguments",
          .string(
            "\(layer.constants.map(\.value.text).joined(separator: ", ")) (one tensor and one number are read)"
          ))
      }
      let first = layer.constants[0].position == 0  // the number is the left operand
      let (scale, shift): (Double, Double)
      switch layer.className {
      case "Add": (scale, shift) = (1, constant)
      case "Subtract": (scale, shift) = first ? (-1, constant) : (1, -constant)
      case "Multiply": (scale, shift) = (constant, 0)
      default:
        guard !first, constant != 0 else {
          throw unsupported(
            layer, "arguments", .string("a division \(first ? "of a number by a tensor" : "by 0")"))
        }
        (scale, shift) = (1 / constant, 0)
      }
      try builder.appendChannelAffine(
        layer.name, scale: [Float](repeating: Float(scale), count: channels),
        shift: [Float](repeating: Float(shift), count: channels))
      return (builder.nodes, nil)
    case let name where mergeLayers.contains(name) && layer.constants.isEmpty:
      try merge(layer, context, builder: &builder)
      return (builder.nodes, nil)
    case "Rescaling":
      guard let channels = input.last else { throw unsupported(layer, "input", "a scalar") }
      let scale = try perChannel(layer, "scale", default: 1, channels: channels)
      let offset = try perChannel(layer, "offset", default: 0, channels: channels)
      try builder.appendChannelAffine(layer.name, scale: scale, shift: offset)
      return (builder.nodes, nil)
    case "Normalization":
      return (try normalization(layer, context, input: input, builder: &builder), nil)
    case "PReLU":
      guard let channels = input.last else { throw unsupported(layer, "input", "a scalar") }
      let alpha = try context.weights([("alpha", input.map { _ in -1 })])["alpha"]!
      // α may vary along the channels only: (1, …, 1, C) or (1, …, 1, 1).
      guard alpha.shape.dropLast().allSatisfy({ $0 == 1 }), [1, channels].contains(alpha.shape.last ?? 0)
      else {
        throw ModelIOError.unsupportedSetting(
          file: file, layer: layer.name, setting: "shared_axes",
          value:
            "\(layer.config["shared_axes"]?.text ?? "null") (α of shape \(alpha.shape) varies along more than the channels; share every axis but the last)"
        )
      }
      let slopes =
        alpha.count == channels ? alpha.scalars : [Float](repeating: alpha.scalars[0], count: channels)
      // PReLU(x) = α·x + (1 − α)·ReLU(x).
      let relu = try builder.append(context.name("\(layer.name)_relu"), .activation(.relu), parameters: [:])
      let negative = try builder.append(
        context.name("\(layer.name)_linear"), .scaleShift(scale: true, shift: false), inputs: [source],
        parameters: ["gamma": Tensor(shape: [channels], scalars: slopes)])
      let positive = try builder.append(
        context.name("\(layer.name)_rectified"), .scaleShift(scale: true, shift: false), inputs: [relu],
        parameters: ["gamma": Tensor(shape: [channels], scalars: slopes.map { 1 - $0 })])
      try builder.append(layer.name, .add, inputs: [negative, positive], parameters: [:])
      return (builder.nodes, nil)
    default:
      return nil
    }
  }

  /// Keras's Normalization: `(x − mean)/max(√variance, 1e-7)`, or with `invert`
  /// `mean + x·√variance`, along the last axis (or over everything, `axis: null`), from the
  /// adapted weights or the config's `mean` and `variance`.
  private func normalization(
    _ layer: KerasLayer, _ context: KerasLayerContext, input: [Int], builder: inout NodeChain
  ) throws -> [Node] {
    guard let channels = input.last else { throw unsupported(layer, "input", "a scalar") }
    let axisValue = layer.config["axis"] ?? .null
    let axes = axisValue.isNull ? [] : axisValue.ints
    guard let axes, axes.count <= 1, axes.allSatisfy({ $0 == -1 || $0 == input.count }) else {
      throw ModelIOError.unsupportedSetting(
        file: file, layer: layer.name, setting: "axis",
        value: "\(axisValue.text) (only the last axis, or none, is supported)")
    }
    let width = axes.isEmpty ? 1 : channels
    var mean: [Float]
    var variance: [Float]
    if let given = layer.config["mean"], !given.isNull {
      mean = try perChannel(layer, "mean", default: 0, channels: width)
      variance = try perChannel(layer, "variance", default: 1, channels: width)
    } else {
      let weights = try context.weights([("mean", [-1]), ("variance", [-1]), ("count", [])])
      guard let m = weights["mean"], let v = weights["variance"], m.count == width, v.count == width else {
        throw ModelIOError.badConfig(
          file: file,
          detail: "layer '\(layer.name)' (Normalization) has no mean and variance of \(width) values")
      }
      (mean, variance) = (m.scalars, v.scalars)
    }
    if width == 1 {
      mean = [Float](repeating: mean[0], count: channels)
      variance = [Float](repeating: variance[0], count: channels)
    }
    let deviation = variance.map { Float.maximum($0.squareRoot(), 1e-7) }
    let invert = layer.config["invert"]?.bool ?? false
    let scale = invert ? variance.map { $0.squareRoot() } : deviation.map { 1 / $0 }
    let shift = invert ? mean : zip(mean, deviation).map { -$0 / $1 }
    try builder.appendChannelAffine(layer.name, scale: scale, shift: shift)
    return builder.nodes
  }

  func requireRank(_ layer: KerasLayer, _ input: [Int], _ rank: Int) throws {
    guard input.count == rank else {
      throw ModelIOError.unsupportedSetting(
        file: file, layer: layer.name, setting: "input shape",
        value: "\(input) (\(layer.className) needs \(rank) axes per sample)")
    }
  }

  func positiveInt(_ layer: KerasLayer, _ key: String, default fallback: Int?) throws -> Int {
    let value: JSONValue
    if let given = layer.config[key], !given.isNull {
      value = given
    } else if let fallback {
      return fallback
    } else {
      value = try required(layer, key)  // throws: the setting is missing
    }
    guard let number = value.int, number > 0 else { throw unsupported(layer, key, value) }
    return number
  }

  func strides(_ layer: KerasLayer, count: Int) throws -> [Int] {
    (layer.config["strides"]?.isNull ?? true)
      ? [Int](repeating: 1, count: count) : try ints(layer, "strides", count: count)
  }

  func dilation(_ layer: KerasLayer, count: Int) throws -> [Int] {
    (layer.config["dilation_rate"]?.isNull ?? true)
      ? [Int](repeating: 1, count: count) : try ints(layer, "dilation_rate", count: count)
  }

  /// Padding or cropping amounts `[before, after]` per dimension, flattened: Keras writes one
  /// number for every side, one per dimension (symmetric) or a pair per dimension.
  func sides(_ layer: KerasLayer, _ key: String, dimensions: Int) throws -> [Int] {
    let value = try required(layer, key)
    var amounts: [Int]?
    if let single = value.int {
      amounts = [Int](repeating: single, count: 2 * dimensions)
    } else if let list = value.array, list.count == dimensions, list.allSatisfy({ $0.int != nil }) {
      amounts = list.flatMap { [$0.int!, $0.int!] }
    } else if dimensions == 1, let pair = value.ints, pair.count == 2 {
      amounts = pair
    } else if let list = value.array, list.count == dimensions {
      let pairs = list.compactMap { $0.ints }.filter { $0.count == 2 }
      if pairs.count == dimensions { amounts = pairs.flatMap { $0 } }
    }
    guard let amounts, amounts.allSatisfy({ $0 >= 0 }) else { throw unsupported(layer, key, value) }
    return amounts
  }

  /// A number or a list of `channels` numbers from the config, as `channels` values.
  func perChannel(_ layer: KerasLayer, _ key: String, default fallback: Float, channels: Int) throws
    -> [Float]
  {
    guard let value = layer.config[key], !value.isNull else {
      return [Float](repeating: fallback, count: channels)
    }
    var numbers: [Double]?
    if let number = value.double {
      numbers = [Double](repeating: number, count: channels)
    } else if let list = value.array {
      let flat = list.compactMap(\.double)
      if flat.count == list.count && (flat.count == channels || flat.count == 1) {
        numbers = flat.count == 1 ? [Double](repeating: flat[0], count: channels) : flat
      }
    }
    guard let numbers, numbers.allSatisfy({ $0.isFinite }) else {
      throw ModelIOError.unsupportedSetting(
        file: file, layer: layer.name, setting: key,
        value: "\(value.text) (a number or one per channel, \(channels), is supported)")
    }
    return numbers.map { Float($0) }
  }
}
