import AtomicFile
import Foundation
import Graph
import ONNXProto
import SwiftProtobuf
import Tensor

#if _endian(big)
  #error("the ONNX reader takes tensors' raw data as little-endian, which is ONNX's order and this machine's")
#endif

/// Reads an ONNX model (what `torch.onnx.export` writes) into a ``Graph``: the same graph the
/// Keras reader builds, so conversion, tuning, simulation and export treat both alike
/// (docs/onnx.md).
///
/// Layout: ONNX images are `N×C×H×W`, the graph's are channels-last. The graph's input takes
/// the model's own `C×H×W` images, so that users' `N×C×H×W` arrays work as they are, and its
/// first node moves channels last once per image; convolution kernels are transposed once, on
/// reading. Where the network leaves images for vectors (`Flatten`, `Reshape`), the values are
/// put back into `C×H×W` order first, so that the following weights apply as PyTorch trained
/// them.
///
/// Weights come from `initializer`s and `Constant` nodes; the small integer subgraphs PyTorch
/// writes to compute shapes (`Shape → Gather → Unsqueeze → Concat → Reshape` for
/// `x.view(x.size(0), -1)`) are evaluated on reading. Anything else is refused naming the node,
/// its op type and the model's opset, with the list of what is supported.
public enum ONNXModelReader {
  /// The operators read (default domain).
  public static let supportedOps = [
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv", "ConvTranspose",
    "Div",
    "Dropout",
    "Elu", "Flatten", "Gather", "Gemm", "Gelu", "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid",
    "HardSwish",
    "Identity",
    "LayerNormalization", "LeakyRelu", "MatMul", "MaxPool", "Mul", "PRelu", "Pad", "ReduceMean", "Relu",
    "Reshape",
    "Shape",
    "Sigmoid", "Softmax", "Softplus", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
  ]

  /// The default-domain opsets accepted.
  public static let opsets = 7...22

  /// Reads the ONNX model at `path`.
  /// - Throws: ``ModelIOError/onnx(file:detail:)`` naming the file and, where it applies, the
  ///   node; `InputFileError` when the file cannot be read.
  public static func read(_ path: String) throws -> Graph {
    // Protocol buffers are at most 2 GiB.
    let data = try InputFile.read(path, limit: Int(Int32.max))
    return try read(
      data: data, file: path, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
  }

  /// Reads an ONNX model from its bytes; `file` names it in errors. `directory` is where
  /// tensors kept in external data files are looked for (nil: such tensors are refused).
  public static func read(data: Data, file: String, directory: String? = nil) throws -> Graph {
    let model: Onnx_ModelProto
    do {
      var options = BinaryDecodingOptions()
      options.messageDepthLimit = 64
      model = try Onnx_ModelProto(serializedBytes: data, options: options)
    } catch {
      throw ModelIOError.onnx(file: file, detail: "not a readable ONNX model (\(error))")
    }
    guard model.hasGraph else {
      throw ModelIOError.onnx(file: file, detail: "not an ONNX model: it holds no graph")
    }
    let opset = model.opsetImport.first { $0.domain == "" || $0.domain == "ai.onnx" }.map { Int($0.version) }
    guard let opset else {
      throw ModelIOError.onnx(file: file, detail: "the model imports no default-domain opset")
    }
    guard opsets.contains(opset) else {
      throw ModelIOError.onnx(
        file: file, detail: "opset \(opset) is not supported (\(opsets.lowerBound)–\(opsets.upperBound) are)")
    }
    var builder = ONNXGraphBuilder(file: file, opset: opset, directory: directory)
    return try builder.build(
      model.graph, name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent)
  }
}

/// A constant tensor of an ONNX model: its dims and values (integers kept exact as Int).
struct ONNXConstant {
  var dims: [Int]
  var integers: [Int]?
  /// The values, or the little-endian float32 bytes they are stored as (read where they are
  /// used, so that a large weight is copied once, into its layout, not first into an array).
  private var values: [Float]?
  private var raw: Data?

  init(dims: [Int], floats: [Float], integers: [Int]?) {
    self.dims = dims
    values = floats
    self.integers = integers
  }

  /// Float32 values stored as `bytes` (their count checked by the caller).
  init(dims: [Int], float32Bytes bytes: Data) {
    self.dims = dims
    raw = bytes
  }

  var floats: [Float] { values ?? withFloats { Array($0) } }

  /// Calls `body` with the values, in place where they are stored as bytes.
  func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R {
    if let values { return values.withUnsafeBufferPointer(body) }
    return raw!.withUnsafeBytes { bytes in
      let count = bytes.count / MemoryLayout<Float>.size
      if let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
        return body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count))
      }
      let copy = (0..<count).map {
        bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Float>.size, as: Float.self)
      }
      return copy.withUnsafeBufferPointer(body)
    }
  }

  var count: Int { dims.reduce(1, *) }
  var isScalarLike: Bool { count == 1 }
}

/// A value of the graph being built: the node holding it and how its per-sample shape relates
/// to ONNX's.
struct ONNXValue {
  enum Layout {
    /// The node's per-sample shape is ONNX's (vectors, `C×H×W` before it moves channels last).
    case plain
    /// ONNX `C×H×W`, held channels-last as `H×W×C`.
    case channelsLast
  }
  var node: String
  var layout: Layout
  /// ONNX's per-sample shape (without the batch).
  var shape: [Int]
}

/// One ONNX node being read: its proto, its attributes by name, the name of the graph node it
/// becomes (the ONNX node's name, or its output's) and the ONNX value it produces.
struct ONNXNode {
  let proto: Onnx_NodeProto
  let attributes: [String: Onnx_AttributeProto]
  let base: String
  let output: String

  init(proto: Onnx_NodeProto, base: String, output: String) {
    self.proto = proto
    attributes = Dictionary(proto.attribute.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    self.base = base
    self.output = output
  }

  func int(_ name: String, _ fallback: Int) -> Int { attributes[name].map { Int($0.i) } ?? fallback }
  func ints(_ name: String) -> [Int]? { attributes[name].map { $0.ints.map { Int($0) } } }
  func float(_ name: String, _ fallback: Double) -> Double {
    attributes[name].map { Double($0.f) } ?? fallback
  }
  func string(_ name: String) -> String? { attributes[name].map { String(decoding: $0.s, as: UTF8.self) } }
}

struct ONNXGraphBuilder {
  let file: String
  let opset: Int
  var nodes = [Node]()
  var shapes = [String: [Int]]()
  var names = Set<String>()
  var constants = [String: ONNXConstant]()
  var values = [String: ONNXValue]()
  /// How many graph nodes read each ONNX value (to fold a bias into the MatMul before it).
  var readers = [String: Int]()
  /// Memoized conversions of a value into the other layout, by node name.
  var converted = [String: ONNXValue]()
  /// Per graph node: the ONNX node it came from, for errors.
  var current = ("", "")
  /// The steps of GELU written out with Erf (`x · 0.5 · (1 + erf(x/√2))`, as exporters before
  /// opset 20 write it), by the ONNX value each step produced: the x it started from and how far
  /// the formula has got.
  var gelu = [String: (x: ONNXValue, stage: GELUStage)]()

  enum GELUStage {
    /// `erf(x/√2)`, `1 + erf(x/√2)`, `x·(1 + erf(x/√2))`.
    case erf, onePlusErf, product
  }

  /// Where external data files are looked for; nil when the model was not read from a file.
  let directory: String?
  /// The batch size the model's input declares, when it declares a fixed one.
  var fixedBatch: Int?
  /// External data files read so far, by location.
  var externalFiles = [String: Data]()

  init(file: String, opset: Int, directory: String? = nil) {
    self.file = file
    self.opset = opset
    self.directory = directory
  }

  // MARK: Errors

  func failure(_ detail: String) -> ModelIOError {
    let (name, op) = current
    return .onnx(file: file, detail: "node '\(name)' (\(op), opset \(opset)): \(detail)")
  }

  // MARK: Building

  mutating func build(_ graph: Onnx_GraphProto, name: String) throws -> Graph {
    for tensor in graph.initializer {
      current = (tensor.name, "initializer")
      constants[tensor.name] = try constant(tensor, external: try externalBytes(tensor))
    }
    let inputs = graph.input.filter { constants[$0.name] == nil }
    guard inputs.count == 1 else {
      throw ModelIOError.onnx(
        file: file,
        detail:
          "the graph has \(inputs.count) inputs (\(inputs.map(\.name).joined(separator: ", "))); one is supported"
      )
    }
    try addInput(inputs[0])
    for onnx in graph.node {
      for output in onnx.output where !output.isEmpty { readers[output] = 0 }
      for input in onnx.input where !input.isEmpty { readers[input, default: 0] += 1 }
    }
    for (index, onnx) in graph.node.enumerated() {
      current = (onnx.name.isEmpty ? "#\(index)" : onnx.name, onnx.opType)
      guard onnx.domain == "" || onnx.domain == "ai.onnx" else {
        throw failure("operators of domain '\(onnx.domain)' are not supported")
      }
      try add(onnx)
    }
    guard let outputName = graph.output.first?.name else {
      throw ModelIOError.onnx(file: file, detail: "the graph declares no output")
    }
    if graph.output.count > 1 {
      throw ModelIOError.onnx(
        file: file, detail: "the graph has \(graph.output.count) outputs; one is supported")
    }
    current = (outputName, "output")
    guard let output = values[outputName] else {
      throw ModelIOError.onnx(
        file: file, detail: "the graph's output '\(outputName)' is a constant or produced by no node")
    }
    let final = try plain(output)
    // Nodes nothing reads (the x/√2 and x/2 of a written-out GELU) are dropped.
    var needed: Set<String> = [final.node]
    for node in nodes.reversed() where needed.contains(node.name) { needed.formUnion(node.inputs) }
    do {
      return try Graph(name: name, nodes: nodes.filter { needed.contains($0.name) }, outputs: [final.node])
    } catch let error as GraphError {
      throw ModelIOError.invalidGraph(file: file, error: error)
    }
  }

  mutating func addInput(_ input: Onnx_ValueInfoProto) throws {
    current = (input.name, "input")
    guard input.type.tensorType.hasShape else { throw failure("the input declares no shape") }
    let dims = input.type.tensorType.shape.dim
    guard dims.count >= 2 else { throw failure("the input needs a batch axis and at least one more") }
    if case .dimValue(let batch)? = dims[0].value, batch > 0 { fixedBatch = Int(batch) }
    var shape = [Int]()
    for dim in dims.dropFirst() {
      guard case .dimValue(let value)? = dim.value, value > 0, value <= 1 << 24 else {
        throw failure("every axis but the batch needs a fixed positive size, got \(dims.map(describe))")
      }
      shape.append(Int(value))
    }
    guard shape.reduce(1, *) <= 1 << 28 else { throw failure("the input of shape \(shape) is too large") }
    let node = try emit(input.name, .input(shape: shape), inputs: [])
    values[input.name] = ONNXValue(node: node, layout: .plain, shape: shape)
  }

  func describe(_ dim: Onnx_TensorShapeProto.Dimension) -> String {
    switch dim.value {
    case .dimValue(let value)?: return "\(value)"
    case .dimParam(let name)?: return name
    case nil: return "?"
    }
  }

  /// Adds a graph node named after `base` (made unique, with characters HDF5 and NIR take).
  @discardableResult
  mutating func emit(
    _ base: String, _ op: Op, inputs: [String], parameters: [String: Tensor<Float>] = [:]
  ) throws -> String {
    var cleaned = String(base.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." ? $0 : "_" })
    while cleaned.hasPrefix("_") { cleaned.removeFirst() }
    if cleaned.isEmpty { cleaned = "node" }
    var name = cleaned
    var suffix = 1
    while names.contains(name) {
      name = "\(cleaned)_\(suffix)"
      suffix += 1
    }
    let node = Node(name: name, op: op, inputs: inputs, parameters: parameters)
    let inputShapes = inputs.map { shapes[$0]! }
    do {
      let shape = try Graph.outputShape(of: node, inputShapes: inputShapes)
      shapes[name] = shape
    } catch let error as GraphError {
      throw failure("\(error)")
    }
    names.insert(name)
    nodes.append(node)
    return name
  }

  /// `gate`, a tensor of `C×1×1`, repeated over the `C×H×W` image `image` (held channels-last)
  /// by a nearest up-sampling; nil when the two are not such a pair.
  mutating func gated(_ image: ONNXValue, _ gate: ONNXValue) throws -> ONNXValue? {
    let shape = image.shape
    guard image.layout == .channelsLast, shape.count == 3, shape[1] * shape[2] > 1,
      gate.shape == [shape[0], 1, 1]
    else { return nil }
    var node = gate.node
    // C×1×1 and 1×1×C hold the same values in the same order.
    if gate.layout == .plain {
      node = try emit(gate.node + "_hwc", .reshape([1, 1, shape[0]]), inputs: [node])
    }
    node = try emit(
      gate.node + "_broadcast", .upSample2d(rows: shape[1], columns: shape[2]), inputs: [node])
    return ONNXValue(node: node, layout: .channelsLast, shape: shape)
  }

  /// The value's node held with ONNX's own per-sample shape.
  mutating func plain(_ value: ONNXValue) throws -> ONNXValue {
    guard value.layout == .channelsLast else { return value }
    if let done = converted[value.node + "#plain"] { return done }
    var node = value.node
    if value.shape.count == 3, value.shape[1] * value.shape[2] > 1 {
      node = try emit(value.node + "_chw", .permute(order: [2, 0, 1]), inputs: [node])
    } else if value.shape.count == 3 {
      node = try emit(value.node + "_chw", .reshape(value.shape), inputs: [node])
    }
    let result = ONNXValue(node: node, layout: .plain, shape: value.shape)
    converted[value.node + "#plain"] = result
    return result
  }

  /// The value's node held channels-last (an ONNX image `C×H×W`).
  mutating func channelsLast(_ value: ONNXValue) throws -> ONNXValue {
    if value.layout == .channelsLast { return value }
    guard value.shape.count == 3 else {
      throw failure("needs an image (N×C×H×W), got a tensor of per-sample shape \(value.shape)")
    }
    if let done = converted[value.node + "#last"] { return done }
    let node = try emit(value.node + "_hwc", .permute(order: [1, 2, 0]), inputs: [value.node])
    let result = ONNXValue(node: node, layout: .channelsLast, shape: value.shape)
    converted[value.node + "#last"] = result
    return result
  }

  // MARK: Nodes

  mutating func add(_ onnx: Onnx_NodeProto) throws {
    guard let output = onnx.output.first, !output.isEmpty else { throw failure("the node has no output") }
    let n = ONNXNode(proto: onnx, base: current.0, output: output)
    if onnx.opType == "Add" || onnx.opType == "Mul", onnx.input.contains(where: { gelu[$0] != nil }) {
      return try addGELUStep(onnx, base: n.base, output: output)
    }
    if try addShapeOperator(n) { return }
    if try addConvolutionOrPooling(n) { return }
    if try addLinearOperator(n) { return }
    try addActivation(n)
  }

  /// The `k`-th input of `n`: a value of the graph, or a constant.
  func operand(_ n: ONNXNode, _ k: Int) -> (value: ONNXValue?, constant: ONNXConstant?) {
    guard k < n.proto.input.count, !n.proto.input[k].isEmpty else { return (nil, nil) }
    return (values[n.proto.input[k]], constants[n.proto.input[k]])
  }

  /// The `k`-th input of `n`, which must be a value of the graph.
  func requireValue(_ n: ONNXNode, _ k: Int) throws -> ONNXValue {
    let inputs = n.proto.input
    guard k < inputs.count else { throw failure("missing input \(k + 1)") }
    if let value = values[inputs[k]] { return value }
    if constants[inputs[k]] != nil {
      throw failure("input '\(inputs[k])' is a constant where a tensor of the network is needed")
    }
    throw failure(
      "reads '\(inputs[k])', which no earlier node produces (an ONNX graph lists its nodes in order)")
  }

  /// The `k`-th input of `n`, which must be a constant (`what` names it in errors).
  func requireConstant(_ n: ONNXNode, _ k: Int, _ what: String) throws -> ONNXConstant {
    let inputs = n.proto.input
    guard k < inputs.count, let value = constants[inputs[k]] else {
      if k < inputs.count, values[inputs[k]] != nil {
        throw failure("its \(what) must be a constant (an initializer), not computed by the network")
      }
      throw failure("its \(what) ('\(k < inputs.count ? inputs[k] : "")') is missing")
    }
    return value
  }

  /// Whether every input of `n` is a constant (or absent).
  func allConstant(_ n: ONNXNode) -> Bool {
    n.proto.input.allSatisfy { $0.isEmpty || constants[$0] != nil }
  }

  /// Records that `n`'s output is graph node `node`, in `layout`, of `shape`.
  mutating func set(_ n: ONNXNode, _ node: String, _ layout: ONNXValue.Layout, _ shape: [Int]) {
    values[n.output] = ONNXValue(node: node, layout: layout, shape: shape)
  }

  /// A constant operand of elementwise arithmetic as one value per channel: a scalar repeated,
  /// or per channel (`[C]` for vectors, `[C, 1, 1]` or `[1, C, 1, 1]` for images).
  func channelVector(_ constant: ONNXConstant, channels: Int, value: ONNXValue) throws -> [Float] {
    if constant.count == 1 { return [Float](repeating: constant.floats[0], count: channels) }
    let dims = Array(constant.dims.drop { $0 == 1 && constant.dims.count > value.shape.count })
    let expected: Bool
    switch value.layout {
    case .channelsLast:
      expected = dims == [channels, 1, 1] || dims == [channels] && value.shape[1] * value.shape[2] == 1
    case .plain: expected = dims == [channels] && dims.count <= value.shape.count
    }
    guard expected, constant.count == channels else {
      throw failure(
        "a constant of shape \(constant.dims) does not broadcast per channel over a tensor of shape \(value.shape)"
      )
    }
    return constant.floats
  }

}
