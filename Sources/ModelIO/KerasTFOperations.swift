/// tf.keras 2 records a TensorFlow function called on its tensors (`x * 0.5`, `tf.nn.relu6(x)`,
/// `tf.reshape(g, [-1, 1, 1, C])`) as a `TFOpLambda` layer: the function's name in
/// `config.function`, its first argument as the inbound tensor (or `_CONSTANT_VALUE` with the
/// number when the number comes first, as in `1.0 - x`), the others as keyword arguments of the
/// call (`y`, `shape`). The reader translates each into the layer Keras 3 saves for the same
/// arithmetic, which it already reads.
enum KerasTFOperations {
  /// The functions read, by the layer they become.
  static let arithmetic: [String: String] = [
    "__operators__.add": "Add", "math.add": "Add",
    "__operators__.sub": "Subtract", "math.subtract": "Subtract",
    "__operators__.mul": "Multiply", "math.multiply": "Multiply",
    "__operators__.truediv": "TrueDivide", "math.truediv": "TrueDivide", "math.divide": "TrueDivide",
  ]
  static let activations: [String: String] = [
    "nn.relu": "relu", "nn.relu6": "relu6", "math.sigmoid": "sigmoid", "nn.sigmoid": "sigmoid",
    "math.tanh": "tanh", "nn.tanh": "tanh", "nn.silu": "silu", "nn.swish": "silu", "nn.gelu": "gelu",
    "math.exp": "exponential", "nn.softplus": "softplus", "math.softplus": "softplus", "nn.elu": "elu",
    "nn.softmax": "softmax",
  ]

  /// Every function name read, for messages.
  static var supported: String {
    (arithmetic.keys.sorted() + activations.keys.sorted() + ["reshape"]).map { "tf.\($0)" }.joined(
      separator: ", ")
  }

  /// `layer` (a `TFOpLambda` or `SlicingOpLambda` entry of a Functional model, with its
  /// `inbound_nodes`) as the Keras 3 layer it stands for, its inputs and numbers set.
  /// - Throws: ``ModelIOError`` naming the layer and the function when it is not read.
  static func translate(_ layer: KerasLayer, inboundNodes: JSONValue?, file: String) throws -> KerasLayer {
    let function = layer.config["function"]?.string ?? "?"
    func refuse(_ why: String) -> ModelIOError {
      .unsupportedSetting(
        file: file, layer: layer.name, setting: "function", value: "tf.\(function) (\(why))")
    }
    guard layer.className == "TFOpLambda" else {
      throw refuse("slicing a tensor is not read")
    }
    guard let calls = inboundNodes?.array, calls.count == 1, let call = calls[0].array, call.count >= 3,
      let first = call[0].string
    else { throw refuse("its call is not one call of [tensor, node, index, arguments]") }
    let keywords: JSONValue = call.count > 3 ? call[3] : nil
    // The operands in order: a layer's name or a number.
    var operands = [(layer: String?, number: JSONValue?)]()
    if first == "_CONSTANT_VALUE" {
      guard call[2].double != nil else {
        throw refuse("its first operand is a constant that is not a number")
      }
      operands.append((nil, call[2]))
    } else {
      guard call[1].int == 0, call[2].int == 0 else {
        throw refuse(
          "it reads output \(call[1].text), \(call[2].text) of '\(first)' (shared layers are not read)")
      }
      operands.append((first, nil))
    }
    let translated: KerasLayer
    if let className = arithmetic[function] {
      guard let y = keywords["y"] else { throw refuse("it has no second operand 'y'") }
      if let reference = y.array, let name = reference.first?.string {
        guard reference.count >= 3, reference[1].int == 0, reference[2].int == 0 else {
          throw refuse("its operand reads another output of '\(name)'")
        }
        operands.append((name, nil))
      } else if y.double != nil {
        operands.append((nil, y))
      } else {
        throw refuse("its operand 'y' is \(y.text), neither a tensor nor a number")
      }
      translated = KerasLayer(
        name: layer.name, className: className, config: ["name": .string(layer.name)],
        inbound: operands.compactMap(\.layer),
        scope: layer.scope, innerName: layer.innerName,
        constants: operands.enumerated().compactMap { position, operand in
          operand.number.map { (position, $0) }
        })
    } else if let activation = activations[function] {
      translated = KerasLayer(
        name: layer.name, className: "Activation",
        config: ["name": .string(layer.name), "activation": .string(activation)],
        inbound: operands.compactMap(\.layer), scope: layer.scope, innerName: layer.innerName)
    } else if function == "reshape" {
      guard let shape = keywords["shape"]?.array, let leading = shape.first,
        leading.int == -1 || leading.isNull,
        shape.dropFirst().allSatisfy({ ($0.int ?? 0) > 0 })
      else {
        throw refuse(
          "its shape \(keywords["shape"]?.text ?? "none") is not a constant shape that keeps the batch first (-1)"
        )
      }
      translated = KerasLayer(
        name: layer.name, className: "Reshape",
        config: ["name": .string(layer.name), "target_shape": .array(Array(shape.dropFirst()))],
        inbound: operands.compactMap(\.layer), scope: layer.scope, innerName: layer.innerName)
    } else {
      throw refuse("read: \(supported)")
    }
    guard !translated.inbound.isEmpty else { throw refuse("none of its operands is a tensor") }
    return translated
  }
}
