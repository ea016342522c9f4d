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

struct ONNXGraphBuilder {
  let file: String
  let opset: Int
  private var nodes = [Node]()
  private var shapes = [String: [Int]]()
  private var names = Set<String>()
  private var constants = [String: ONNXConstant]()
  private var values = [String: ONNXValue]()
  /// How many graph nodes read each ONNX value (to fold a bias into the MatMul before it).
  private var readers = [String: Int]()
  /// Memoized conversions of a value into the other layout, by node name.
  private var converted = [String: ONNXValue]()
  /// Per graph node: the ONNX node it came from, for errors.
  private var current = ("", "")
  /// The steps of GELU written out with Erf (`x · 0.5 · (1 + erf(x/√2))`, as exporters before
  /// opset 20 write it), by the ONNX value each step produced: the x it started from and how far
  /// the formula has got.
  private var gelu = [String: (x: ONNXValue, stage: GELUStage)]()

  enum GELUStage {
    /// `erf(x/√2)`, `1 + erf(x/√2)`, `x·(1 + erf(x/√2))`.
    case erf, onePlusErf, product
  }

  /// Where external data files are looked for; nil when the model was not read from a file.
  let directory: String?
  /// The batch size the model's input declares, when it declares a fixed one.
  private var fixedBatch: Int?
  /// External data files read so far, by location.
  private var externalFiles = [String: Data]()

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

  private mutating func addInput(_ input: Onnx_ValueInfoProto) throws {
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

  private func describe(_ dim: Onnx_TensorShapeProto.Dimension) -> String {
    switch dim.value {
    case .dimValue(let value)?: return "\(value)"
    case .dimParam(let name)?: return name
    case nil: return "?"
    }
  }

  /// Adds a graph node named after `base` (made unique, with characters HDF5 and NIR take).
  @discardableResult
  private mutating func emit(
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
  private mutating func gated(_ image: ONNXValue, _ gate: ONNXValue) throws -> ONNXValue? {
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
  private mutating func plain(_ value: ONNXValue) throws -> ONNXValue {
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
  private mutating func channelsLast(_ value: ONNXValue) throws -> ONNXValue {
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

  private mutating func add(_ onnx: Onnx_NodeProto) throws {
    let base = current.0
    let attributes = Dictionary(onnx.attribute.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    func int(_ name: String, _ fallback: Int) -> Int { attributes[name].map { Int($0.i) } ?? fallback }
    func ints(_ name: String) -> [Int]? { attributes[name].map { $0.ints.map { Int($0) } } }
    func float(_ name: String, _ fallback: Double) -> Double {
      attributes[name].map { Double($0.f) } ?? fallback
    }
    func string(_ name: String) -> String? { attributes[name].map { String(decoding: $0.s, as: UTF8.self) } }
    /// The `k`-th input: a value of the graph, or a constant.
    func operand(_ k: Int) -> (value: ONNXValue?, constant: ONNXConstant?) {
      guard k < onnx.input.count, !onnx.input[k].isEmpty else { return (nil, nil) }
      return (values[onnx.input[k]], constants[onnx.input[k]])
    }
    func requireValue(_ k: Int) throws -> ONNXValue {
      guard k < onnx.input.count else { throw failure("missing input \(k + 1)") }
      if let value = values[onnx.input[k]] { return value }
      if constants[onnx.input[k]] != nil {
        throw failure("input '\(onnx.input[k])' is a constant where a tensor of the network is needed")
      }
      throw failure(
        "reads '\(onnx.input[k])', which no earlier node produces (an ONNX graph lists its nodes in order)")
    }
    func requireConstant(_ k: Int, _ what: String) throws -> ONNXConstant {
      guard k < onnx.input.count, let value = constants[onnx.input[k]] else {
        if k < onnx.input.count, values[onnx.input[k]] != nil {
          throw failure("its \(what) must be a constant (an initializer), not computed by the network")
        }
        throw failure("its \(what) ('\(k < onnx.input.count ? onnx.input[k] : "")') is missing")
      }
      return value
    }
    func allConstant() -> Bool {
      onnx.input.allSatisfy { $0.isEmpty || constants[$0] != nil }
    }
    guard let output = onnx.output.first, !output.isEmpty else { throw failure("the node has no output") }
    func set(_ node: String, _ layout: ONNXValue.Layout, _ shape: [Int]) {
      values[output] = ONNXValue(node: node, layout: layout, shape: shape)
    }

    if onnx.opType == "Add" || onnx.opType == "Mul", onnx.input.contains(where: { gelu[$0] != nil }) {
      return try addGELUStep(onnx, base: base, output: output)
    }
    switch onnx.opType {
    case "Constant":
      guard let attribute = onnx.attribute.first else { throw failure("a Constant needs a value") }
      switch attribute.name {
      case "value": constants[output] = try constant(attribute.t)
      case "value_float": constants[output] = ONNXConstant(dims: [], floats: [attribute.f], integers: nil)
      case "value_floats":
        constants[output] = ONNXConstant(
          dims: [attribute.floats.count], floats: attribute.floats, integers: nil)
      case "value_int":
        constants[output] = ONNXConstant(dims: [], floats: [Float(attribute.i)], integers: [Int(attribute.i)])
      case "value_ints":
        let values = attribute.ints.map { Int($0) }
        constants[output] = ONNXConstant(
          dims: [values.count], floats: values.map(Float.init), integers: values)
      default: throw failure("Constant's '\(attribute.name)' is not supported")
      }

    case "Identity", "Dropout":
      if let constant = operand(0).constant {
        constants[output] = constant
      } else {
        values[output] = try requireValue(0)
      }

    case "Cast":
      let source = try requireConstant(0, "input (a Cast of the network's tensors is not supported)")
      let to = int("to", 1)
      switch to {
      case 1, 11: constants[output] = ONNXConstant(dims: source.dims, floats: source.floats, integers: nil)
      case 6, 7:
        let integers = source.integers ?? source.floats.map { Int($0) }
        constants[output] = ONNXConstant(
          dims: source.dims, floats: integers.map(Float.init), integers: integers)
      default: throw failure("Cast to data type \(to) is not supported")
      }

    case "Shape":
      let value = try requireValue(0)
      // The batch axis reads 0: in a Reshape's shape 0 copies the input's size.
      var dims = [0] + value.shape
      let start = int("start", 0)
      let end = int("end", dims.count)
      let clamp = { (k: Int) in min(max(k < 0 ? k + dims.count : k, 0), dims.count) }
      dims = Array(dims[clamp(start)..<max(clamp(start), clamp(end))])
      constants[output] = ONNXConstant(dims: [dims.count], floats: dims.map(Float.init), integers: dims)

    case "Gather":
      let data = try requireConstant(0, "data (Gather of the network's tensors is not supported)")
      let indices = try requireConstant(1, "indices")
      guard int("axis", 0) == 0, data.dims.count <= 1 else {
        throw failure("only Gather of a constant vector's entries is supported")
      }
      let length = data.dims.first ?? 1
      var picked = [Int]()
      for index in indices.integers ?? indices.floats.map({ Int($0) }) {
        let k = index < 0 ? index + length : index
        guard (0..<length).contains(k) else { throw failure("index \(index) outside 0..<\(length)") }
        picked.append(k)
      }
      constants[output] = ONNXConstant(
        dims: indices.dims, floats: picked.map { data.floats[$0] },
        integers: data.integers.map { i in picked.map { i[$0] } })

    case "Unsqueeze", "Squeeze":
      var axes = ints("axes")
      if axes == nil, let given = operand(1).constant {
        axes = given.integers ?? given.floats.map { Int($0) }
      }
      if let source = operand(0).constant {
        var dims = source.dims
        if onnx.opType == "Unsqueeze" {
          for axis in (axes ?? []).map({ $0 < 0 ? $0 + dims.count + (axes?.count ?? 0) : $0 }).sorted() {
            dims.insert(1, at: min(max(axis, 0), dims.count))
          }
        } else {
          let drop = Set(
            (axes ?? dims.indices.filter { dims[$0] == 1 }).map { $0 < 0 ? $0 + dims.count : $0 })
          dims = dims.indices.filter { !drop.contains($0) }.map { dims[$0] }
        }
        constants[output] = ONNXConstant(dims: dims, floats: source.floats, integers: source.integers)
        return
      }
      let value = try plain(try requireValue(0))
      var shape = [0] + value.shape
      if onnx.opType == "Unsqueeze" {
        guard let axes else { throw failure("Unsqueeze needs axes") }
        let rank = shape.count + axes.count
        for axis in axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted() {
          guard axis >= 1, axis <= shape.count else { throw failure("cannot insert an axis at \(axis)") }
          shape.insert(1, at: axis)
        }
      } else {
        let drop = Set(
          (axes ?? shape.indices.dropFirst().filter { shape[$0] == 1 }).map { $0 < 0 ? $0 + shape.count : $0 }
        )
        guard !drop.contains(0), drop.allSatisfy({ shape.indices.contains($0) && shape[$0] == 1 }) else {
          throw failure("cannot squeeze axes \(axes ?? []) of a tensor of shape \(shape)")
        }
        shape = shape.indices.filter { !drop.contains($0) }.map { shape[$0] }
      }
      let result = Array(shape.dropFirst())
      set(try emit(base, .reshape(result), inputs: [value.node]), .plain, result)

    case "Concat":
      let axis = int("axis", 0)
      if allConstant() {
        let parts = onnx.input.map { constants[$0]! }
        guard parts.allSatisfy({ $0.dims.count <= 1 }) else {
          throw failure("only Concat of constant vectors is folded")
        }
        let integers = parts.allSatisfy { $0.integers != nil } ? parts.flatMap { $0.integers! } : nil
        let floats = parts.flatMap(\.floats)
        constants[output] = ONNXConstant(dims: [floats.count], floats: floats, integers: integers)
        return
      }
      var parts = [ONNXValue]()
      for k in onnx.input.indices { parts.append(try requireValue(k)) }
      let rank = parts[0].shape.count + 1
      let resolved = axis < 0 ? axis + rank : axis
      guard resolved >= 1, resolved < rank else { throw failure("cannot join along the batch axis") }
      if parts.allSatisfy({ $0.layout == .channelsLast }) && resolved == 1 {
        var shape = parts[0].shape
        shape[0] = parts.reduce(0) { $0 + $1.shape[0] }
        set(try emit(base, .concatenate(axis: -1), inputs: parts.map(\.node)), .channelsLast, shape)
      } else {
        var plainParts = [ONNXValue]()
        for part in parts { plainParts.append(try plain(part)) }
        var shape = plainParts[0].shape
        shape[resolved - 1] = plainParts.reduce(0) { $0 + $1.shape[resolved - 1] }
        set(
          try emit(base, .concatenate(axis: resolved - 1), inputs: plainParts.map(\.node)), .plain, shape)
      }

    case "Conv":
      let x = try channelsLast(try requireValue(0))
      let weight = try requireConstant(1, "weight")
      let bias = operand(2).constant
      if operand(2).value != nil { throw failure("its bias must be a constant") }
      guard weight.dims.count == 4 else {
        throw failure("only 2-D convolutions (a 4-D weight) are supported, the weight is \(weight.dims)")
      }
      let groups = int("group", 1)
      let (filters, perGroup, kh, kw) = (weight.dims[0], weight.dims[1], weight.dims[2], weight.dims[3])
      let channels = x.shape[0]
      guard groups >= 1, channels % groups == 0, perGroup * groups == channels, filters % groups == 0 else {
        throw failure("weight \(weight.dims) with group \(groups) does not fit \(channels) input channels")
      }
      if let kernel = ints("kernel_shape"), kernel != [kh, kw] {
        throw failure("kernel_shape \(kernel) contradicts the weight's \([kh, kw])")
      }
      let strides = ints("strides") ?? [1, 1]
      let dilations = ints("dilations") ?? [1, 1]
      guard strides.count == 2, dilations.count == 2, strides.allSatisfy({ $0 >= 1 }),
        dilations.allSatisfy({ $0 >= 1 })
      else { throw failure("strides \(strides) and dilations \(dilations) must be two positive numbers") }
      if let bias, bias.count != filters {
        throw failure("bias of \(bias.count) values for \(filters) filters")
      }
      let spanned = [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1]
      let (padded, padding) = try window(
        x, kernel: spanned, strides: strides, pads: ints("pads"), autoPad: string("auto_pad"), pool: nil)
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
      set(node, .channelsLast, [out[2], out[0], out[1]])

    case "ConvTranspose":
      // The whole transposed convolution ((H − 1)·s + k rows), then cropped by its pads and
      // extended by output_padding, as ONNX defines the output.
      let x = try channelsLast(try requireValue(0))
      let weight = try requireConstant(1, "weight")
      let bias = operand(2).constant
      if operand(2).value != nil { throw failure("its bias must be a constant") }
      guard weight.dims.count == 4 else {
        throw failure(
          "only 2-D transposed convolutions (a 4-D weight) are supported, the weight is \(weight.dims)")
      }
      guard int("group", 1) == 1 else { throw failure("grouped transposed convolutions are not supported") }
      if let dilations = ints("dilations"), dilations.contains(where: { $0 != 1 }) {
        throw failure("dilated transposed convolutions are not supported")
      }
      if ints("output_shape") != nil {
        throw failure("output_shape is not supported (export with pads instead)")
      }
      let (channels, filters, kh, kw) = (weight.dims[0], weight.dims[1], weight.dims[2], weight.dims[3])
      guard channels == x.shape[0] else {
        throw failure("weight \(weight.dims) does not fit \(x.shape[0]) input channels")
      }
      if let kernel = ints("kernel_shape"), kernel != [kh, kw] {
        throw failure("kernel_shape \(kernel) contradicts the weight's \([kh, kw])")
      }
      if let bias, bias.count != filters {
        throw failure("bias of \(bias.count) values for \(filters) filters")
      }
      let strides = ints("strides") ?? [1, 1]
      let extra = ints("output_padding") ?? [0, 0]
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
      switch string("auto_pad") ?? "NOTSET" {
      case "NOTSET": pads = ints("pads") ?? [0, 0, 0, 0]
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
      set(node, .channelsLast, [out[2], out[0], out[1]])

    case "MaxPool", "AveragePool":
      let x = try channelsLast(try requireValue(0))
      guard let kernel = ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
        throw failure("only 2-D pooling with a kernel_shape of two positive sizes is supported")
      }
      if let dilations = ints("dilations"), dilations.contains(where: { $0 != 1 }) {
        throw failure("dilated pooling is not supported")
      }
      let strides = ints("strides") ?? [1, 1]
      guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }) else { throw failure("strides \(strides)") }
      let mode: PoolingMode = onnx.opType == "MaxPool" ? .max : .average
      let (padded, padding) = try window(
        x, kernel: kernel, strides: strides, pads: ints("pads"), autoPad: string("auto_pad"),
        pool: (mode, int("count_include_pad", 0) == 1, int("ceil_mode", 0) == 1))
      let node = try emit(
        base, .pool2d(Pool2DAttributes(mode: mode, size: kernel, strides: strides, padding: padding)),
        inputs: [padded.node])
      let out = shapes[node]!
      set(node, .channelsLast, [out[2], out[0], out[1]])

    case "GlobalAveragePool", "GlobalMaxPool", "ReduceMean":
      let x = try requireValue(0)
      var keep = int("keepdims", 1) == 1
      if onnx.opType == "ReduceMean" {
        var axes = ints("axes")
        if axes == nil, let given = operand(1).constant { axes = given.integers }
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
      if keep { set(node, .channelsLast, [channels, 1, 1]) } else { set(node, .plain, [channels]) }

    case "Flatten":
      let value = try plain(try requireValue(0))
      let axis = int("axis", 1)
      let rank = value.shape.count + 1
      guard (axis < 0 ? axis + rank : axis) == 1 else { throw failure("only Flatten at axis 1 is supported") }
      if value.shape.count == 1 {
        values[output] = value
      } else {
        let count = value.shape.reduce(1, *)
        set(try emit(base, .flatten, inputs: [value.node]), .plain, [count])
      }

    case "Reshape":
      if let source = operand(0).constant {
        let shape = try requireConstant(1, "shape")
        constants[output] = ONNXConstant(
          dims: shape.integers ?? [], floats: source.floats, integers: source.integers)
        return
      }
      let value = try plain(try requireValue(0))
      let requested = try requireConstant(1, "shape")
      guard let target = requested.integers, !target.isEmpty else {
        throw failure("the target shape must be a constant integer vector")
      }
      let full = [0] + value.shape
      let total = value.shape.reduce(1, *)
      var shape = target.enumerated().map { k, size in
        size == 0 && int("allowzero", 0) == 0 && k < full.count ? full[k] : size
      }
      // A model exported for a fixed batch (torch.onnx.export without dynamic shapes) names
      // that size where the batch goes; the graph runs any batch.
      guard shape[0] == 0 || shape[0] == -1 || target[0] == 0 || target[0] == fixedBatch else {
        throw failure("a Reshape must keep the batch axis first (target \(target))")
      }
      shape.removeFirst()
      if let unknown = shape.firstIndex(of: -1) {
        let known = shape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
        guard known > 0, total % known == 0 else {
          throw failure("cannot reshape \(value.shape) to \(target)")
        }
        shape[unknown] = total / known
      }
      guard shape.allSatisfy({ $0 >= 1 }), shape.reduce(1, *) == total else {
        throw failure("cannot reshape \(value.shape) to \(target)")
      }
      if shape == value.shape {
        values[output] = value
      } else if shape.count == 1 {
        set(try emit(base, .flatten, inputs: [value.node]), .plain, shape)
      } else {
        set(try emit(base, .reshape(shape), inputs: [value.node]), .plain, shape)
      }

    case "Transpose":
      let value = try plain(try requireValue(0))
      let rank = value.shape.count + 1
      let perm = ints("perm") ?? Array((0..<rank).reversed())
      guard perm.count == rank, perm.first == 0, Set(perm) == Set(0..<rank) else {
        throw failure("only permutations that keep the batch axis first are supported, got \(perm)")
      }
      let order = perm.dropFirst().map { $0 - 1 }
      let shape = order.map { value.shape[$0] }
      set(try emit(base, .permute(order: order), inputs: [value.node]), .plain, shape)

    case "Gemm":
      let x = try plain(try requireValue(0))
      guard x.shape.count == 1 else { throw failure("Gemm needs vectors, got per-sample shape \(x.shape)") }
      guard int("transA", 0) == 0 else { throw failure("transA = 1 is not supported") }
      let b = try requireConstant(1, "weight B")
      guard b.dims.count == 2 else { throw failure("B must be a matrix, has dims \(b.dims)") }
      let transposed = int("transB", 0) == 1
      let (rows, columns) = (b.dims[0], b.dims[1])
      let (inputs, units) = transposed ? (columns, rows) : (rows, columns)
      guard inputs == x.shape[0] else { throw failure("B \(b.dims) does not fit inputs of \(x.shape[0])") }
      let alpha = Float(float("alpha", 1))
      let beta = Float(float("beta", 1))
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
      if let c = operand(2).constant {
        guard c.count == units || c.count == 1 else {
          throw failure("C of \(c.count) values for \(units) units")
        }
        parameters["bias"] = Tensor(
          shape: [units],
          scalars: c.count == 1
            ? [Float](repeating: beta * c.floats[0], count: units) : c.floats.map { beta * $0 })
      } else if operand(2).value != nil {
        throw failure("C must be a constant")
      }
      let node = try emit(
        base, .dense(units: units, useBias: parameters["bias"] != nil), inputs: [x.node],
        parameters: parameters)
      set(node, .plain, [units])

    case "MatMul":
      let x = try plain(try requireValue(0))
      let b = try requireConstant(1, "second operand")
      guard x.shape.count >= 1, b.dims.count == 2, b.dims[0] == x.shape.last! else {
        throw failure("only a tensor times a constant matrix is supported (\(x.shape) × \(b.dims))")
      }
      let units = b.dims[1]
      let node = try emit(
        base, .dense(units: units, useBias: false), inputs: [x.node],
        parameters: ["kernel": Tensor(shape: b.dims, scalars: b.floats)])
      set(node, .plain, Array(x.shape.dropLast()) + [units])

    case "Erf":
      // Only as a step of GELU: erf of x/√2.
      let value = try requireValue(0)
      guard let (x, factor) = scaled(value), abs(factor - 1 / 2.0.squareRoot()) < 1e-4 else {
        throw failure("Erf is supported only in GELU, x · 0.5 · (1 + erf(x/√2))")
      }
      gelu[output] = (x, .erf)

    case "Add", "Sub", "Mul", "Div":
      if allConstant() {
        throw failure("arithmetic on constants alone is not folded")
      }
      let (a, b) = (operand(0), operand(1))
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
        set(try emit(base, op, inputs: [l.node, r.node]), l.layout, l.shape)
        return
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
        return
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
        try emit(
          base, .scaleShift(scale: scale != nil, shift: shift != nil), inputs: [value.node],
          parameters: parameters),
        value.layout, value.shape)

    case "BatchNormalization":
      let x = try requireValue(0)
      let value = x.shape.count == 3 ? try channelsLast(x) : x
      guard value.shape.count == 1 || value.layout == .channelsLast else {
        throw failure("BatchNormalization of per-sample shape \(x.shape) is not supported")
      }
      let channels = value.shape[0]
      var parameters = [String: Tensor<Float>]()
      for (k, name) in [(1, "gamma"), (2, "beta"), (3, "moving_mean"), (4, "moving_variance")] {
        let c = try requireConstant(k, name)
        guard c.count == channels else {
          throw failure("\(name) has \(c.count) values for \(channels) channels")
        }
        parameters[name] = Tensor(shape: [channels], scalars: c.floats)
      }
      if int("training_mode", 0) != 0 { throw failure("training_mode = 1 is not supported") }
      let node = try emit(
        base, .batchNorm(epsilon: float("epsilon", 1e-5), center: true, scale: true), inputs: [value.node],
        parameters: parameters)
      set(node, value.layout, value.shape)

    case "LayerNormalization":
      let value = try plain(try requireValue(0))
      let axis = int("axis", -1)
      guard axis == -1 || axis == value.shape.count else { throw failure("only the last axis is normalized") }
      let width = value.shape.last!
      let scale = try requireConstant(1, "scale")
      var parameters = ["gamma": Tensor<Float>(shape: [width], scalars: scale.floats)]
      guard scale.count == width else { throw failure("scale has \(scale.count) values for \(width)") }
      if let bias = operand(2).constant {
        guard bias.count == width else { throw failure("bias has \(bias.count) values for \(width)") }
        parameters["beta"] = Tensor(shape: [width], scalars: bias.floats)
      }
      let node = try emit(
        base, .layerNorm(epsilon: float("epsilon", 1e-5), center: parameters["beta"] != nil, scale: true),
        inputs: [value.node], parameters: parameters)
      set(node, .plain, value.shape)

    case "Softmax":
      let value = try plain(try requireValue(0))
      let axis = int("axis", opset >= 13 ? -1 : 1)
      guard value.shape.count == 1, axis == -1 || axis == 1 else {
        throw failure("only a softmax over a vector's entries is supported")
      }
      set(try emit(base, .softmax, inputs: [value.node]), .plain, value.shape)

    case "PRelu":
      var value = try requireValue(0)
      let slope = try requireConstant(1, "slope")
      if slope.isScalarLike || Set(slope.floats).count == 1 {
        set(
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
      set(try emit(base, .add, inputs: [positive, sloped]), value.layout, value.shape)

    case "Pad":
      let value = try channelsLast(try requireValue(0))
      let mode = string("mode") ?? "constant"
      guard mode == "constant" else { throw failure("Pad mode '\(mode)' is not supported (only constant)") }
      var pads = ints("pads")
      if pads == nil, let given = operand(1).constant { pads = given.integers }
      if let fill = operand(2).constant, fill.floats.contains(where: { $0 != 0 }) {
        throw failure("only padding with zeros is supported")
      }
      guard let pads, pads.count == 8, pads.allSatisfy({ $0 >= 0 }),
        [0, 1, 4, 5].allSatisfy({ pads[$0] == 0 })
      else { throw failure("only non-negative padding of an image's height and width is supported") }
      let node = try emit(
        base, .zeroPad2d(top: pads[2], bottom: pads[6], left: pads[3], right: pads[7]), inputs: [value.node])
      let out = shapes[node]!
      set(node, .channelsLast, [out[2], out[0], out[1]])

    default:
      let function: UnaryFunction
      switch onnx.opType {
      case "Relu": function = .relu
      case "LeakyRelu": function = .leakyRelu(slope: float("alpha", 0.01))
      case "Sigmoid": function = .sigmoid
      case "Tanh": function = .tanh
      case "Elu": function = .elu(alpha: float("alpha", 1))
      case "Softplus": function = .softplus
      case "HardSwish": function = .hardSwish
      case "Gelu":
        switch string("approximate") ?? "none" {
        case "none": function = .gelu(.exact)
        case "tanh": function = .gelu(.tanh)
        case let other: throw failure("Gelu approximation '\(other)' is not supported")
        }
      case "Clip":
        var low = attributes["min"].map { Double($0.f) }
        var high = attributes["max"].map { Double($0.f) }
        if let given = operand(1).constant { low = Double(given.floats[0]) }
        if let given = operand(2).constant { high = Double(given.floats[0]) }
        if operand(1).value != nil || operand(2).value != nil {
          throw failure("Clip bounds must be constants")
        }
        guard low == 0 else {
          throw failure(
            "only Clip from 0 (ReLU, ReLU6) is supported, min is \(low.map { "\($0)" } ?? "none")")
        }
        function = high.map { .clippedRelu(maxValue: $0, negativeSlope: 0, threshold: 0) } ?? .relu
      case "HardSigmoid":
        let value = try requireValue(0)
        let channels = value.layout == .channelsLast ? value.shape[0] : value.shape.last!
        let alpha = Float(float("alpha", 0.2))
        let beta = Float(float("beta", 0.5))
        let scaled = try emit(
          base + "_affine", .scaleShift(scale: true, shift: true), inputs: [value.node],
          parameters: [
            "gamma": Tensor(shape: [channels], scalars: [Float](repeating: alpha, count: channels)),
            "beta": Tensor(shape: [channels], scalars: [Float](repeating: beta, count: channels)),
          ])
        let node = try emit(
          base, .activation(.clippedRelu(maxValue: 1, negativeSlope: 0, threshold: 0)), inputs: [scaled])
        set(node, value.layout, value.shape)
        return
      default:
        throw failure(
          "\(onnx.opType) is not supported; supported: \(ONNXModelReader.supportedOps.joined(separator: ", "))"
        )
      }
      let value = try requireValue(0)
      set(try emit(base, .activation(function), inputs: [value.node]), value.layout, value.shape)
    }
  }

  /// An `Add` or `Mul` reading a step of GELU written out with Erf: the next step, or GELU
  /// itself once the formula is complete.
  private mutating func addGELUStep(_ onnx: Onnx_NodeProto, base: String, output: String) throws {
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
  private func scaled(_ value: ONNXValue) -> (ONNXValue, Double)? {
    guard let node = nodes.last(where: { $0.name == value.node }), case .scaleShift(true, false) = node.op,
      let gamma = node.parameters["gamma"]?.scalars, let first = gamma.first,
      gamma.allSatisfy({ $0 == first }),
      let source = values.values.first(where: { $0.node == node.inputs[0] && $0.layout == value.layout })
    else { return nil }
    return (source, Double(first))
  }

  /// A constant operand of elementwise arithmetic as one value per channel: a scalar repeated,
  /// or per channel (`[C]` for vectors, `[C, 1, 1]` or `[1, C, 1, 1]` for images).
  private func channelVector(_ constant: ONNXConstant, channels: Int, value: ONNXValue) throws -> [Float] {
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

  /// The input of a sliding window (padded explicitly where needed) and the padding mode: ONNX
  /// `pads` (`[top, left, bottom, right]`) or `auto_pad`, matched to "same" or "valid" where
  /// they are, else zero rows and columns added first. `pool`: (mode, count_include_pad,
  /// ceil_mode) for pooling, where padding is not always zeros.
  private mutating func window(
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
  private func producesNonNegative(_ name: String) -> Bool {
    guard let node = nodes.last(where: { $0.name == name }) else { return false }
    switch node.op {
    case .activation(.relu), .activation(.sigmoid), .activation(.softplus): return true
    case .activation(.clippedRelu(_, let slope, let threshold)): return slope == 0 && threshold >= 0
    case .permute, .reshape, .flatten, .zeroPad2d, .pool2d: return producesNonNegative(node.inputs[0])
    default: return false
    }
  }

  // MARK: Tensors

  /// The bytes of a tensor kept in an external data file (what `torch.onnx.export` writes by
  /// default, `model.onnx.data` beside the model): the file named by `location`, relative to
  /// the model's directory and inside it, from `offset` for `length` bytes (default: to the
  /// end). Nil for a tensor whose data is in the model.
  mutating func externalBytes(_ tensor: Onnx_TensorProto) throws -> Data? {
    guard tensor.dataLocation == .external || !tensor.externalData.isEmpty else { return nil }
    let entries = Dictionary(tensor.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    guard let directory else {
      throw failure(
        "tensor '\(tensor.name)' keeps its data in an external file, which needs the model read from a file")
    }
    guard let location = entries["location"], !location.isEmpty, !location.hasPrefix("/"),
      !location.split(separator: "/").contains("..")
    else {
      throw failure(
        "tensor '\(tensor.name)': external data location '\(entries["location"] ?? "")' must be a file beside the model"
      )
    }
    if externalFiles[location] == nil {
      let path = (directory as NSString).appendingPathComponent(location)
      do {
        externalFiles[location] = try InputFile.read(path, limit: 1 << 36)
      } catch {
        throw failure("tensor '\(tensor.name)': its external data file cannot be read: \(error)")
      }
    }
    let bytes = externalFiles[location]!
    func integer(_ key: String) throws -> Int? {
      guard let text = entries[key] else { return nil }
      guard let value = Int(text), value >= 0 else {
        throw failure("tensor '\(tensor.name)': external data \(key) '\(text)' is not a byte count")
      }
      return value
    }
    let offset = try integer("offset") ?? 0
    let length = try integer("length") ?? max(bytes.count - offset, 0)
    guard offset <= bytes.count, length <= bytes.count - offset else {
      throw failure(
        "tensor '\(tensor.name)': external data \(offset)..<\(offset + length) lies outside '\(location)' (\(bytes.count) bytes)"
      )
    }
    let start = bytes.startIndex + offset
    return bytes[start..<(start + length)]
  }

  /// The values of an ONNX tensor: float, double, and integer types, from the tensor itself or
  /// from `external` (its external data's bytes).
  func constant(_ tensor: Onnx_TensorProto, external: Data? = nil) throws -> ONNXConstant {
    if external == nil, tensor.dataLocation == .external || !tensor.externalData.isEmpty {
      throw failure("tensor '\(tensor.name)' keeps its data in an external file, which is not supported here")
    }
    var count = 1
    for dim in tensor.dims {
      guard dim >= 0, dim <= 1 << 31 else { throw failure("tensor '\(tensor.name)' has dims \(tensor.dims)") }
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
      guard !overflow, product <= 1 << 30 else {
        throw failure("tensor '\(tensor.name)' of dims \(tensor.dims) is too large")
      }
      count = product
    }
    let dims = tensor.dims.map { Int($0) }
    func mismatch(_ found: Int) -> ModelIOError {
      failure("tensor '\(tensor.name)' has \(found) values, its dims \(dims) need \(count)")
    }
    let raw = external ?? tensor.rawData
    func fromRaw<T>(_ type: T.Type) throws -> [T] {
      guard raw.count == count * MemoryLayout<T>.size else {
        throw mismatch(raw.count / max(MemoryLayout<T>.size, 1))
      }
      // Little-endian, as ONNX stores it and as this machine is: the bytes are the values.
      return [T](unsafeUninitializedCapacity: count) { target, initialized in
        _ = raw.copyBytes(to: UnsafeMutableRawBufferPointer(target))
        initialized = count
      }
    }
    switch tensor.dataType {
    case 1:  // FLOAT
      if !raw.isEmpty {
        guard raw.count == count * MemoryLayout<Float>.size else {
          throw mismatch(raw.count / MemoryLayout<Float>.size)
        }
        return ONNXConstant(dims: dims, float32Bytes: raw)
      }
      guard tensor.floatData.count == count else { throw mismatch(tensor.floatData.count) }
      return ONNXConstant(dims: dims, floats: tensor.floatData, integers: nil)
    case 11:  // DOUBLE
      let values = raw.isEmpty ? tensor.doubleData : try fromRaw(Double.self)
      guard values.count == count else { throw mismatch(values.count) }
      return ONNXConstant(dims: dims, floats: values.map(Float.init), integers: nil)
    case 7:  // INT64
      let values = raw.isEmpty ? tensor.int64Data : try fromRaw(Int64.self)
      guard values.count == count else { throw mismatch(values.count) }
      let integers = values.map { Int($0) }
      return ONNXConstant(dims: dims, floats: integers.map(Float.init), integers: integers)
    case 6:  // INT32
      let values = raw.isEmpty ? tensor.int32Data : try fromRaw(Int32.self)
      guard values.count == count else { throw mismatch(values.count) }
      let integers = values.map { Int($0) }
      return ONNXConstant(dims: dims, floats: integers.map(Float.init), integers: integers)
    case 9:  // BOOL
      guard raw.count == count || tensor.int32Data.count == count else { throw mismatch(raw.count) }
      let integers = raw.isEmpty ? tensor.int32Data.map { Int($0) } : raw.map { Int($0) }
      return ONNXConstant(dims: dims, floats: integers.map(Float.init), integers: integers)
    default:
      throw failure("tensor '\(tensor.name)' has data type \(tensor.dataType), which is not supported")
    }
  }
}
