import AtomicFile
import Foundation
import Graph
import HDF5
import Tensor

/// Writes a ``Graph`` as a Keras legacy HDF5 model that Keras 3 loads with
/// `keras.models.load_model("x.h5")` (and this toolkit reads back exactly).
///
/// Layout (what Keras 3's own `model.save("x.h5")` writes): a Functional `model_config` with
/// Keras 3 `inbound_nodes`; `model_weights/<layer>/<layer>/<weight>` datasets in float32 listed in
/// each layer's `weight_names`; `layer_names` on `model_weights`. The root's `keras_version`
/// names the Keras file layout followed (3.0.0); `snnkit_version` names the writer.
public enum KerasModelWriter {
  /// The layout version written to `keras_version`.
  public static let kerasLayoutVersion = "3.0.0"

  /// Writes `graph` to `path`, replacing any file there only once the new one is complete.
  /// - Parameter writerVersion: recorded as the `snnkit_version` root attribute.
  /// - Throws: ``ModelIOError/unsupportedSetting(file:layer:setting:value:)`` for an op Keras
  ///   cannot express (an exponential, `abs` or `square` activation, an approximate GELU),
  ///   or the HDF5 error that stopped the write.
  public static func write(_ graph: Graph, to path: String, writerVersion: String) throws {
    for node in graph.nodes where node.name.contains("/") || node.name.isEmpty {
      throw ModelIOError.unsupportedSetting(
        file: path, layer: node.name, setting: "name",
        value: "'\(node.name)' (Keras layer names may not contain '/')")
    }
    let layers = try graph.nodes.map { try layerConfig(for: $0, in: graph, file: path) }
    let config: JSONValue = [
      "class_name": "Functional",
      "config": [
        "name": .string(graph.name), "trainable": true, "layers": .array(layers),
        "input_layers": .array(graph.inputNodes.map { [.string($0.name), 0, 0] }),
        "output_layers": .array(graph.outputs.map { [.string($0), 0, 0] }),
      ],
    ]
    do {
      try AtomicFile.write(to: path) { temporary in
        let root = try HDF5File.create(temporary).root
        try root.writeAttribute("model_config", string: config.text)
        try root.writeAttribute("keras_version", string: kerasLayoutVersion)
        try root.writeAttribute("snnkit_version", string: writerVersion)
        let weights = try root.createGroup("model_weights")
        try writeNames(kerasLayerOrder(graph), as: "layer_names", on: weights)
        try weights.writeAttribute("keras_version", string: kerasLayoutVersion)
        for node in graph.nodes {
          let group = try weights.createGroup(node.name)
          let inputShape = node.inputs.first.flatMap { graph.node($0)?.shape } ?? node.shape
          // Rescaling's scale and offset are in its config.
          let names = node.op.isRescaling ? [] : node.op.parameterShapes(input: inputShape).map(\.name)
          if names.isEmpty {
            try group.writeAttribute("weight_names", values: [Double](), shape: [0])
            continue
          }
          try group.writeAttribute("weight_names", strings: names.map { "\(node.name)/\($0)" })
          for name in names {
            let tensor = node.parameters[name]!
            try group.writeDataset("\(node.name)/\(name)", values: tensor.scalars, shape: tensor.shape)
          }
        }
        try weights.createGroup("top_level_model_weights").writeAttribute(
          "weight_names", values: [Double](), shape: [0])
        // A write that failed (a full disk) is reported here, before the rename, not lost when
        // the file closes.
        try root.file.flush()
      }
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
  }

  static func tensorReference(_ node: Node) -> JSONValue {
    [
      "class_name": "__keras_tensor__",
      "config": [
        "shape": .array([nil] + node.shape.map { .number(Double($0)) }), "dtype": "float32",
        "keras_history": [.string(node.name), 0, 0],
      ],
    ]
  }

  static func ints(_ values: [Int]) -> JSONValue { .array(values.map { .number(Double($0)) }) }

  static func layerConfig(for node: Node, in graph: Graph, file: String) throws -> JSONValue {
    let (className, settings) = try kerasLayer(for: node, file: file)
    var config: [String: JSONValue] = ["name": .string(node.name), "trainable": true, "dtype": "float32"]
    for (key, value) in settings { config[key] = value }
    let inputs = node.inputs.map { tensorReference(graph.node($0)!) }
    let inbound: JSONValue =
      inputs.isEmpty
      ? []
      : [["args": inputs.count == 1 ? [inputs[0]] : [.array(inputs)], "kwargs": [:]]]
    return [
      "class_name": .string(className), "name": .string(node.name), "config": .object(config),
      "inbound_nodes": inbound,
    ]
  }

  /// The Keras class and the config entries that express `node`'s op.
  static func kerasLayer(for node: Node, file: String) throws -> (String, [String: JSONValue]) {
    switch node.op {
    case .input(let shape):
      return (
        "InputLayer", ["batch_shape": .array([nil] + shape.map { .number(Double($0)) }), "sparse": false]
      )
    case .dense(let units, let useBias):
      return ("Dense", ["units": .number(Double(units)), "activation": "linear", "use_bias": .bool(useBias)])
    case .conv2d(let a):
      return (
        "Conv2D",
        [
          "filters": .number(Double(a.filters)), "kernel_size": ints(a.kernelSize),
          "strides": ints(a.strides),
          "padding": .string(a.padding.rawValue), "data_format": "channels_last",
          "dilation_rate": ints(a.dilation), "groups": .number(Double(a.groups)), "activation": "linear",
          "use_bias": .bool(a.useBias),
        ]
      )
    case .conv2dTranspose(let a):
      return (
        "Conv2DTranspose",
        [
          "filters": .number(Double(a.filters)), "kernel_size": ints(a.kernelSize),
          "strides": ints(a.strides),
          "padding": .string(a.padding.rawValue), "output_padding": nil, "data_format": "channels_last",
          "dilation_rate": ints([1, 1]), "activation": "linear", "use_bias": .bool(a.useBias),
        ]
      )
    case .pool2d(let a):
      return (
        a.mode == .max ? "MaxPooling2D" : "AveragePooling2D",
        [
          "pool_size": ints(a.size), "strides": ints(a.strides), "padding": .string(a.padding.rawValue),
          "data_format": "channels_last",
        ]
      )
    case .globalAveragePool2d:
      return ("GlobalAveragePooling2D", ["data_format": "channels_last", "keepdims": false])
    case .flatten:
      return ("Flatten", ["data_format": "channels_last"])
    case .reshape(let target):
      return ("Reshape", ["target_shape": ints(target)])
    case .batchNorm(let epsilon, let center, let scale):
      return (
        "BatchNormalization",
        [
          "axis": -1, "momentum": 0.99, "epsilon": .number(epsilon), "center": .bool(center),
          "scale": .bool(scale),
        ]
      )
    case .layerNorm(let epsilon, let center, let scale):
      return (
        "LayerNormalization",
        ["axis": -1, "epsilon": .number(epsilon), "center": .bool(center), "scale": .bool(scale)]
      )
    case .dropout(let rate):
      return ("Dropout", ["rate": .number(rate)])
    case .add:
      return ("Add", [:])
    case .concatenate(let axis):
      return ("Concatenate", ["axis": .number(Double(axis < 0 ? axis : axis + 1))])
    case .softmax:
      return ("Softmax", ["axis": -1])
    case .zeroPad2d(let top, let bottom, let left, let right):
      return (
        "ZeroPadding2D",
        ["padding": [ints([top, bottom]), ints([left, right])], "data_format": "channels_last"]
      )
    case .crop2d(let top, let bottom, let left, let right):
      return (
        "Cropping2D",
        ["cropping": [ints([top, bottom]), ints([left, right])], "data_format": "channels_last"]
      )
    case .permute(let order):
      return ("Permute", ["dims": ints(order.map { $0 + 1 })])
    case .upSample2d(let rows, let columns):
      return (
        "UpSampling2D",
        ["size": ints([rows, columns]), "interpolation": "nearest", "data_format": "channels_last"]
      )
    case .scaleShift:
      // Keras's Rescaling, its scale and offset per channel (constants, not weights).
      func values(_ name: String, _ fallback: Float) -> JSONValue {
        let width = node.shape.last ?? 1
        let scalars = node.parameters[name]?.scalars ?? [Float](repeating: fallback, count: width)
        return .array(scalars.map { .number(Double($0)) })
      }
      return ("Rescaling", ["scale": values("gamma", 1), "offset": values("beta", 0)])
    case .binary(.subtract): return ("Subtract", [:])
    case .binary(.product): return ("Multiply", [:])
    case .binary(.maximum): return ("Maximum", [:])
    case .binary, .windowElement, .lastAxis, .lastAxisRotation, .spread2d:
      throw ModelIOError.unsupportedSetting(
        file: file, layer: node.name, setting: "op",
        value: "\(node.op.kind) (a spiking decomposition step; Keras has no layer for it)")
    case .activation(let function):
      switch function {
      case .elu(let alpha): return ("ELU", ["alpha": .number(alpha)])
      case .leakyRelu(let slope): return ("LeakyReLU", ["negative_slope": .number(slope)])
      case .clippedRelu(let maxValue, let slope, let threshold):
        return (
          "ReLU",
          [
            "max_value": maxValue.map { .number($0) } ?? nil, "negative_slope": .number(slope),
            "threshold": .number(threshold),
          ]
        )
      default:
        // Parameterized families above are written as their layers, which carry the parameters.
        guard let name = function.canonicalName else {
          var detail = "\(function.name) (Keras has no layer for it)"
          if case .hardSigmoid(let slope, let offset) = function {
            detail =
              "hard_sigmoid with slope \(slope) and offset \(offset), as tf.keras 2 defined it (Keras 3's hard_sigmoid is slope 1/6, offset 1/2, and no layer takes others)"
          }
          throw ModelIOError.unsupportedSetting(
            file: file, layer: node.name, setting: "activation", value: detail)
        }
        return ("Activation", ["activation": .string(name)])
      }
    }
  }

  /// The layers in the order Keras lists a functional model's layers when it rebuilds one from
  /// its config — by distance from the outputs, farthest first, then in the order a depth-first
  /// walk from the outputs (inputs in order) first meets them — which is the order its `.h5`
  /// loader hands the `layer_names` weights out in: written in the graph's own order, a network
  /// whose branches Keras meets in another order would load with its weights swapped.
  static func kerasLayerOrder(_ graph: Graph) -> [String] {
    var first = [String: Int]()
    var finished = [String]()
    func walk(_ name: String) {
      guard first[name] == nil, let node = graph.node(name) else { return }
      first[name] = first.count
      for input in node.inputs { walk(input) }
      finished.append(name)
    }
    for output in graph.outputs { walk(output) }
    // Longest path to an output: consumers are finished after their inputs, so the reversed
    // walk visits every consumer before what it reads.
    var depth = [String: Int]()
    for name in finished.reversed() {
      let own = depth[name, default: 0]
      for input in graph.node(name)!.inputs { depth[input] = max(depth[input, default: 0], own + 1) }
    }
    let reached = finished.sorted {
      (depth[$0, default: 0], -first[$0]!) > (depth[$1, default: 0], -first[$1]!)
    }
    // Nodes no output reads (none in a converted model) keep their place after the rest.
    return reached + graph.nodes.map(\.name).filter { first[$0] == nil }
  }

  /// Names per attribute at most: each variable-length string takes 16 bytes of the object
  /// header, which HDF5 caps at 64 KiB.
  static let namesPerAttribute = 2048

  /// Writes a list of names as one attribute, or — past ``namesPerAttribute`` — split into
  /// `name0`, `name1`, … as Keras splits long lists (its loader and ours join them again).
  static func writeNames(_ names: [String], as name: String, on object: HDF5Object) throws {
    guard names.count > namesPerAttribute else { return try object.writeAttribute(name, strings: names) }
    for (chunk, start) in stride(from: 0, to: names.count, by: namesPerAttribute).enumerated() {
      let slice = Array(names[start..<min(start + namesPerAttribute, names.count)])
      try object.writeAttribute("\(name)\(chunk)", strings: slice)
    }
  }

}

extension Op {
  /// Written as Keras's Rescaling layer, whose constants live in its config rather than in weights.
  var isRescaling: Bool { if case .scaleShift = self { true } else { false } }
}
