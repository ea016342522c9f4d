import Graph
import Tensor

/// Keras's merge layers read elementwise over tensors of one shape (Add is a node of its own).
let mergeLayers: Set<String> = ["Subtract", "Multiply", "Maximum", "Minimum", "Average"]

extension KerasLayerTranslator {
  /// Two or more tensors combined elementwise: a difference, products and maxima as two-input
  /// nodes in a chain, `min(a, b) = a − ReLU(a − b)`, and the mean as a sum scaled by `1/n`.
  /// A per-channel tensor (`1×1×C` or `C`) among images of `H×W×C` — a squeeze-and-excitation
  /// gate — is first repeated over the image (a nearest up-sampling by `H×W`); other shapes that
  /// differ are refused naming them.
  func merge(_ layer: KerasLayer, _ context: KerasLayerContext, builder: inout NodeChain) throws {
    var (inputs, shapes) = (context.inputs, context.inputShapes)
    if let full = shapes.max(by: { $0.reduce(1, *) < $1.reduce(1, *) }), full.count == 3 {
      for k in inputs.indices where shapes[k] != full {
        let channels = full[2]
        guard shapes[k] == [1, 1, channels] || shapes[k] == [channels] else { continue }
        var gate = inputs[k]
        if shapes[k] == [channels] {
          gate = try builder.append(
            context.name("\(layer.name)_gate\(k)"), .reshape([1, 1, channels]), inputs: [gate],
            parameters: [:])
        }
        inputs[k] = try builder.append(
          context.name("\(layer.name)_broadcast\(k)"), .upSample2d(rows: full[0], columns: full[1]),
          inputs: [gate], parameters: [:])
        shapes[k] = full
      }
    }
    guard inputs.count >= 2, layer.className != "Subtract" || inputs.count == 2 else {
      throw unsupported(
        layer, "inputs",
        .string(
          "\(inputs.count) tensors (\(layer.className == "Subtract" ? "two are" : "two or more are") read)"))
    }
    guard shapes.allSatisfy({ $0 == shapes[0] }) else {
      throw unsupported(
        layer, "inputs",
        .string(
          "tensors of shapes \(context.inputShapes.map { "\($0)" }.joined(separator: " and ")) (tensors of one shape, and a per-channel gate over images, are read; other broadcasting is not)"
        ))
    }
    let name = layer.name
    switch layer.className {
    case "Subtract":
      try builder.append(name, .binary(.subtract), inputs: inputs, parameters: [:])
    case "Average":
      let sum = try builder.append(context.name("\(name)_sum"), .add, inputs: inputs, parameters: [:])
      let channels = builder.shapes[sum]?.last ?? 1
      try builder.appendChannelAffine(
        name, scale: [Float](repeating: 1 / Float(inputs.count), count: channels),
        shift: [Float](repeating: 0, count: channels))
    default:
      // A chain over the inputs, left to right; the last node takes the layer's name.
      var current = inputs[0]
      for (k, next) in inputs.dropFirst().enumerated() {
        let out = k == inputs.count - 2 ? name : context.name("\(name)_\(k)")
        switch layer.className {
        case "Multiply":
          current = try builder.append(out, .binary(.product), inputs: [current, next], parameters: [:])
        case "Maximum":
          current = try builder.append(out, .binary(.maximum), inputs: [current, next], parameters: [:])
        default:
          let excess = try builder.append(
            context.name("\(name)_difference\(k)"), .binary(.subtract), inputs: [current, next],
            parameters: [:])
          let above = try builder.append(
            context.name("\(name)_excess\(k)"), .activation(.relu), inputs: [excess], parameters: [:])
          current = try builder.append(out, .binary(.subtract), inputs: [current, above], parameters: [:])
        }
      }
    }
  }
}

/// Nodes added one after the other, each reading the one before unless told otherwise, with
/// the shape of the last.
struct NodeChain {
  let file: String
  /// The node the next one reads by default.
  var last: String
  var nodes = [Node]()
  var shapes: [String: [Int]]
  var shape: [Int] { shapes[last] ?? [] }

  /// A chain starting after the first of `context`'s inputs.
  init(_ context: KerasLayerContext, file: String) {
    self.file = file
    last = context.inputs.first ?? ""
    shapes = Dictionary(zip(context.inputs, context.inputShapes), uniquingKeysWith: { first, _ in first })
  }

  /// `x·scale + shift` per channel, leaving out a scale of ones or a shift of zeros.
  mutating func appendChannelAffine(_ name: String, scale: [Float], shift: [Float]) throws {
    let scaled = scale.contains { $0 != 1 }
    let shifted = shift.contains { $0 != 0 }
    var parameters = [String: Tensor<Float>]()
    if scaled { parameters["gamma"] = Tensor(shape: [scale.count], scalars: scale) }
    if shifted { parameters["beta"] = Tensor(shape: [shift.count], scalars: shift) }
    try append(name, .scaleShift(scale: scaled, shift: shifted), parameters: parameters)
  }

  @discardableResult
  mutating func append(_ name: String, _ op: Op, inputs: [String]? = nil, parameters: [String: Tensor<Float>])
    throws -> String
  {
    var node = Node(name: name, op: op, inputs: inputs ?? [last])
    node.parameters = parameters
    do {
      shapes[name] = try Graph.outputShape(of: node, inputShapes: node.inputs.map { shapes[$0] ?? [] })
    } catch let error as GraphError {
      throw ModelIOError.invalidGraph(file: file, error: error)
    }
    nodes.append(node)
    last = name
    return name
  }
}
