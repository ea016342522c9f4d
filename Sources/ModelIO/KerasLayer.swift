import Graph
import Tensor

/// One layer entry of a Keras `model_config`, with the names of the layers it reads.
struct KerasLayer {
  var name: String
  let className: String
  let config: JSONValue
  /// The layers whose outputs this layer reads, in argument order.
  var inbound: [String]
  /// For a layer of a nested model (inlined, its name prefixed with the model's): the nested
  /// models it sits in, outermost first — its weights are in the outermost one's group of
  /// `model_weights` — and its name there.
  var scope: [String] = []
  var innerName: String? = nil
  /// The arguments of a Keras 3 operation that are numbers, not tensors (`x + 3.0` saves an
  /// `Add` whose arguments are the tensor and 3.0), with their position among the arguments.
  var constants: [(position: Int, value: JSONValue)] = []
}

/// The classes of a model used as a layer of another (a pretrained base inside a Functional
/// model, the usual transfer-learning shape); the reader inlines their layers.
let nestedModelClasses: Set<String> = ["Sequential", "Functional", "Model"]

/// The layer classes the reader translates, in the order the error message lists them.
let supportedKerasLayers =
  [
    "InputLayer", "Dense", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "Conv1D",
    "MaxPooling2D",
    "AveragePooling2D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "ZeroPadding2D", "ZeroPadding1D", "Cropping2D",
    "Cropping1D",
    "Flatten", "Reshape", "Permute", "UpSampling2D", "BatchNormalization", "LayerNormalization",
    "Normalization", "Rescaling",
    "Dropout", "Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average", "Concatenate", "Activation",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "CenterCrop",
    "RandomCrop", "TFOpLambda",
  ] + inferenceIdentityLayers

/// Layers that change their input only while training — data augmentation, noise, dropout of
/// other kinds, regularizers — and pass it through unchanged at inference. Each is read as a
/// Dropout (its rate where it has one, else 0), which conversion removes.
let inferenceIdentityLayers = [
  "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
  "RandomHue", "RandomSaturation", "RandomGrayscale", "RandomColorJitter", "RandomPerspective",
  "RandomShear", "RandomErasing", "RandomGaussianBlur", "RandomSharpness", "RandomPosterization",
  "RandomInvert", "RandomElasticTransform", "GaussianNoise", "GaussianDropout", "AlphaDropout",
  "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ActivityRegularization",
]

/// Translates Keras layer configs into graph nodes.
struct KerasLayerTranslator {
  let file: String
  /// The file was written by tf.keras 2, whose `hard_sigmoid` is `clip(0.2·x + 0.5, 0, 1)`
  /// (Keras 3's is `relu6(x + 3)/6`).
  var kerasTwo = false

  func unsupported(_ layer: KerasLayer, _ setting: String, _ value: JSONValue?) -> ModelIOError {
    .unsupportedSetting(file: file, layer: layer.name, setting: setting, value: value?.text ?? "missing")
  }

  func required(_ layer: KerasLayer, _ key: String) throws -> JSONValue {
    guard let value = layer.config[key], !value.isNull else {
      throw ModelIOError.badConfig(
        file: file, detail: "layer '\(layer.name)' (\(layer.className)) has no '\(key)'")
    }
    return value
  }

  func ints(_ layer: KerasLayer, _ key: String, count: Int) throws -> [Int] {
    let value = try required(layer, key)
    guard var values = value.ints else { throw unsupported(layer, key, value) }
    if values.count == 1 && count > 1 { values = Array(repeating: values[0], count: count) }
    guard values.count == count, values.allSatisfy({ $0 > 0 }) else { throw unsupported(layer, key, value) }
    return values
  }

  func padding(_ layer: KerasLayer) throws -> Padding {
    let value = layer.config["padding"] ?? "valid"
    guard let text = value.string, let padding = Padding(rawValue: text.lowercased()) else {
      throw unsupported(layer, "padding", value)
    }
    return padding
  }

  func requireChannelsLast(_ layer: KerasLayer) throws {
    if let format = layer.config["data_format"], !format.isNull, format.string != "channels_last" {
      throw unsupported(layer, "data_format", format)
    }
  }

  func double(_ layer: KerasLayer, _ key: String, default fallback: Double) throws -> Double {
    guard let value = layer.config[key], !value.isNull else { return fallback }
    guard let number = value.double else { throw unsupported(layer, key, value) }
    return number
  }

  /// The per-sample input shape an `InputLayer` (or a first Sequential layer) declares.
  func declaredInputShape(_ layer: KerasLayer) -> [Int]? {
    for key in ["batch_shape", "batch_input_shape"] {
      if let dims = layer.config[key]?.array, dims.count >= 2 {
        let rest = dims.dropFirst().map(\.int)
        if rest.allSatisfy({ $0 != nil }) { return rest.map { $0! } }
      }
    }
    return nil
  }

  /// An elementwise function from a Keras activation (a name, or a serialized function object).
  func activation(_ layer: KerasLayer, _ value: JSONValue?) throws -> Op? {
    guard let value, !value.isNull else { return nil }
    var name = value.string
    var approximate = false
    if case .object = value {
      // Keras 3 may serialize an activation as {"class_name": "function", "config": "gelu", ...}.
      name = value["config"]?.string ?? value["config"]?["name"]?.string ?? value["class_name"]?.string
      approximate = value["config"]?["approximate"]?.bool ?? false
    }
    if name == "softmax" { return .softmax }
    if name == "gelu" && approximate { return .activation(.gelu(.tanh)) }
    if name == "hard_sigmoid" && kerasTwo { return .activation(.hardSigmoid(slope: 0.2, offset: 0.5)) }
    guard let name, let function = UnaryFunction(named: name) else {
      throw ModelIOError.unsupportedSetting(
        file: file, layer: layer.name, setting: "activation",
        value: "\(value.text) (supported: \(UnaryFunction.namesList), softmax)")
    }
    return function == .identity ? nil : .activation(function)
  }

  /// The op of a layer and the activation applied after it, if any.
  func translate(_ layer: KerasLayer) throws -> (op: Op, activation: Op?) {
    let activationField = try activation(layer, layer.config["activation"])
    switch layer.className {
    case "InputLayer":
      guard let shape = declaredInputShape(layer) else {
        throw unsupported(
          layer, "batch_shape", layer.config["batch_shape"] ?? layer.config["batch_input_shape"])
      }
      return (.input(shape: shape), nil)
    case "Dense":
      let units = try required(layer, "units")
      guard let count = units.int, count > 0 else { throw unsupported(layer, "units", units) }
      return (.dense(units: count, useBias: layer.config["use_bias"]?.bool ?? true), activationField)
    case "Conv2D":
      try requireChannelsLast(layer)
      let attributes = Conv2DAttributes(
        filters: try positiveInt(layer, "filters", default: nil),
        kernelSize: try ints(layer, "kernel_size", count: 2),
        strides: try strides(layer, count: 2), padding: try padding(layer),
        useBias: layer.config["use_bias"]?.bool ?? true, dilation: try dilation(layer, count: 2),
        groups: try positiveInt(layer, "groups", default: 1))
      return (.conv2d(attributes), activationField)
    case "Conv2DTranspose":
      try requireChannelsLast(layer)
      if let outputPadding = layer.config["output_padding"], !outputPadding.isNull {
        throw unsupported(layer, "output_padding", outputPadding)
      }
      let dilation = try dilation(layer, count: 2)
      guard dilation == [1, 1] else {
        throw unsupported(layer, "dilation_rate", layer.config["dilation_rate"])
      }
      if let groups = layer.config["groups"], groups.int != 1 { throw unsupported(layer, "groups", groups) }
      let attributes = Conv2DAttributes(
        filters: try positiveInt(layer, "filters", default: nil),
        kernelSize: try ints(layer, "kernel_size", count: 2),
        strides: try strides(layer, count: 2), padding: try padding(layer),
        useBias: layer.config["use_bias"]?.bool ?? true)
      return (.conv2dTranspose(attributes), activationField)
    case "MaxPooling2D", "AveragePooling2D":
      try requireChannelsLast(layer)
      let size = try ints(layer, "pool_size", count: 2)
      let strides = (layer.config["strides"]?.isNull ?? true) ? size : try ints(layer, "strides", count: 2)
      let mode: PoolingMode = layer.className == "MaxPooling2D" ? .max : .average
      return (
        .pool2d(Pool2DAttributes(mode: mode, size: size, strides: strides, padding: try padding(layer))), nil
      )
    case "GlobalAveragePooling2D":
      try requireChannelsLast(layer)
      if layer.config["keepdims"]?.bool == true {
        throw unsupported(layer, "keepdims", layer.config["keepdims"])
      }
      return (.globalAveragePool2d, nil)
    case "Flatten":
      try requireChannelsLast(layer)
      return (.flatten, nil)
    case "ZeroPadding2D", "Cropping2D":
      try requireChannelsLast(layer)
      let padding = layer.className == "ZeroPadding2D"
      let a = try sides(layer, padding ? "padding" : "cropping", dimensions: 2)
      return (
        padding
          ? .zeroPad2d(top: a[0], bottom: a[1], left: a[2], right: a[3])
          : .crop2d(top: a[0], bottom: a[1], left: a[2], right: a[3]), nil
      )
    case "UpSampling2D":
      try requireChannelsLast(layer)
      let interpolation = layer.config["interpolation"] ?? "nearest"
      guard interpolation.string == "nearest" else {
        throw ModelIOError.unsupportedSetting(
          file: file, layer: layer.name, setting: "interpolation",
          value: "\(interpolation.text) (only nearest repeats pixels; bilinear is not read)")
      }
      let size = try ints(layer, "size", count: 2)
      return (.upSample2d(rows: size[0], columns: size[1]), nil)
    case "Permute":
      let dims = try required(layer, "dims")
      guard let order = dims.ints, order.allSatisfy({ $0 > 0 }) else {
        throw unsupported(layer, "dims", dims)
      }
      return (.permute(order: order.map { $0 - 1 }), nil)
    case "Reshape":
      let target = try required(layer, "target_shape")
      guard let shape = target.ints else { throw unsupported(layer, "target_shape", target) }
      return (.reshape(shape), nil)
    case "Dropout":
      return (.dropout(rate: try double(layer, "rate", default: 0)), nil)
    case _ where inferenceIdentityLayers.contains(layer.className):
      let rate = layer.config["rate"]?.double ?? 0
      return (.dropout(rate: (0..<1).contains(rate) ? rate : 0), nil)
    case "BatchNormalization":
      try requireLastAxis(layer)
      return (
        .batchNorm(
          epsilon: try double(layer, "epsilon", default: 1e-3), center: layer.config["center"]?.bool ?? true,
          scale: layer.config["scale"]?.bool ?? true), nil
      )
    case "LayerNormalization":
      try requireLastAxis(layer)
      if layer.config["rms_scaling"]?.bool == true { throw unsupported(layer, "rms_scaling", true) }
      return (
        .layerNorm(
          epsilon: try double(layer, "epsilon", default: 1e-3), center: layer.config["center"]?.bool ?? true,
          scale: layer.config["scale"]?.bool ?? true), nil
      )
    case "Add":
      return (.add, nil)
    case "Concatenate":
      let axis = layer.config["axis"]?.int ?? -1
      guard axis != 0 else { throw unsupported(layer, "axis", layer.config["axis"]) }
      return (.concatenate(axis: axis > 0 ? axis - 1 : axis), nil)
    case "Activation":
      let op = try activation(layer, try required(layer, "activation"))
      return (op ?? .activation(.identity), nil)
    case "ReLU":
      let maxValue = layer.config["max_value"].flatMap { $0.isNull ? nil : $0.double }
      let slope = try double(layer, "negative_slope", default: 0)
      let threshold = try double(layer, "threshold", default: 0)
      if maxValue == nil && threshold == 0 {
        return (slope == 0 ? .activation(.relu) : .activation(.leakyRelu(slope: slope)), nil)
      }
      return (.activation(.clippedRelu(maxValue: maxValue, negativeSlope: slope, threshold: threshold)), nil)
    case "LeakyReLU":
      // Keras 3 calls the slope `negative_slope`, Keras 2 `alpha`; both default to 0.3.
      let slope = try double(layer, "negative_slope", default: try double(layer, "alpha", default: 0.3))
      return (.activation(.leakyRelu(slope: slope)), nil)
    case "ELU":
      return (.activation(.elu(alpha: try double(layer, "alpha", default: 1))), nil)
    case "Softmax":
      let axis = layer.config["axis"]
      if let axis, !axis.isNull, axis.ints != [-1] { throw unsupported(layer, "axis", axis) }
      return (.softmax, nil)
    default:
      throw ModelIOError.unsupportedLayer(
        file: file, layer: layer.name, className: layer.className, supported: supportedKerasLayers)
    }
  }

  /// Normalization layers are supported on the last (channels) axis only. A positive axis is
  /// checked against the input rank once shapes are known (see ``KerasModelReader``).
  func requireLastAxis(_ layer: KerasLayer) throws {
    guard let value = layer.config["axis"], !value.isNull else { return }
    guard let axes = value.ints, axes.count == 1 else { throw unsupported(layer, "axis", value) }
    if axes[0] < 0 && axes[0] != -1 { throw unsupported(layer, "axis", value) }
  }
}
