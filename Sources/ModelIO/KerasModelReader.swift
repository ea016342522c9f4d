import AtomicFile
import Foundation
import Graph
import HDF5
import Tensor

/// Reads Keras legacy HDF5 model files (`model.save("x.h5")`) into a ``Graph``.
///
/// Accepts what Keras 2 (tf.keras) and Keras 3 write: Sequential and Functional models; layer
/// and weight names split over several attributes; strings in any HDF5 layout; weights found
/// through each layer's `weight_names`, resolved relative to the layer's group.
public enum KerasModelReader {
  /// Reads the model at `path`.
  /// - Throws: ``ModelIOError`` naming the file, the layer and the HDF5 path at fault.
  public static func read(_ path: String) throws -> Graph {
    if isZipArchive(path) { throw ModelIOError.kerasArchive(file: path) }
    do {
      let root = try HDF5File.open(path).root
      guard root.hasAttribute("model_config") else {
        let reason =
          root.contains("layer_names") || root.hasAttribute("layer_names")
          ? "it holds weights only (no 'model_config' attribute); save the whole model with model.save('x.h5')"
          : "no 'model_config' attribute at '/'"
        throw ModelIOError.notAKerasModel(file: path, reason: reason)
      }
      let weights = root.contains("model_weights") ? try root.group("model_weights") : root
      // tf.keras 2 and Keras 3 mean different functions by one name (`hard_sigmoid`).
      let version = root.hasAttribute("keras_version") ? try? root.readString("keras_version") : nil
      return try read(
        config: try root.readString("model_config"), weights: weights, file: path,
        kerasVersion: version)
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
  }

  /// Reads a model from its Keras `model_config` JSON and a group laid out as Keras's
  /// `model_weights` (one group per layer with `weight_names`), which need not come from the same
  /// file; `file` names the source in errors; `kerasVersion` (the file's `keras_version`, e.g.
  /// `2.9.0`) decides what names that changed meaning between Keras 2 and 3 stand for (Keras 3's
  /// when nil).
  /// - Throws: ``ModelIOError`` naming `file`, the layer and the HDF5 path at fault.
  public static func read(config text: String, weights: HDF5Group, file: String, kerasVersion: String? = nil)
    throws -> Graph
  {
    do {
      guard let config = JSONValue(parsing: text) else {
        throw ModelIOError.badConfig(file: file, detail: "model_config is not valid JSON")
      }
      return try build(
        config: config, weights: weights, file: file, kerasTwo: kerasVersion?.hasPrefix("2.") ?? false)
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
  }

  static func isZipArchive(_ path: String) -> Bool {
    // Not a regular file: HDF5File.open says what it is (opening a named pipe here would block).
    guard (try? InputFile.requireRegular(path)) != nil else { return false }
    guard let handle = FileHandle(forReadingAtPath: path) else { return false }
    defer { try? handle.close() }
    return (try? handle.read(upToCount: 4)) == Data([0x50, 0x4B, 0x03, 0x04])
  }

  static func build(config: JSONValue, weights: HDF5Group, file: String, kerasTwo: Bool = false) throws
    -> Graph
  {
    let translator = KerasLayerTranslator(file: file, kerasTwo: kerasTwo)
    guard let className = config["class_name"]?.string else {
      throw ModelIOError.badConfig(file: file, detail: "no 'class_name' at the top level")
    }
    let modelName = config["config"]?["name"]?.string ?? "model"
    let model = try layers(of: className, config["config"], translator: translator)
    let layers = model.layers
    let outputs = model.outputs

    var usedNames = Set(layers.map(\.name))
    func uniqueName(_ base: String) -> String {
      var name = base
      while usedNames.contains(name) { name += "_" }
      usedNames.insert(name)
      return name
    }
    var nodes = [Node]()
    var shapes = [String: [Int]]()  // node name → per-sample shape, inferred as nodes are added
    var producedBy = [String: String]()  // Keras layer name → name of the node holding its output
    var axisChecks = [(node: String, axis: Int)]()
    func add(_ node: Node) throws {
      do {
        shapes[node.name] = try Graph.outputShape(of: node, inputShapes: node.inputs.map { shapes[$0]! })
      } catch let error as GraphError {
        throw ModelIOError.invalidGraph(file: file, error: error)
      }
      nodes.append(node)
    }
    for layer in layers {
      let inputs = try layer.inbound.map { source -> String in
        guard let node = producedBy[source] else {
          throw ModelIOError.badConfig(
            file: file, detail: "layer '\(layer.name)' reads unknown layer '\(source)'")
        }
        return node
      }
      var layerNodes: [Node]
      let activation: Op?
      let context = KerasLayerContext(
        inputs: inputs, inputShapes: inputs.map { shapes[$0]! }, name: uniqueName,
        weights: { expected in
          try readWeights(for: layer, expected: expected, weights: weights, file: file)
        })
      if let composite = try translator.composite(layer, context) {
        (layerNodes, activation) = composite
      } else {
        let (op, layerActivation) = try translator.translate(layer)
        var node = Node(name: layer.name, op: op, inputs: inputs)
        node.parameters = try readParameters(for: layer, op: op, weights: weights, file: file)
        layerNodes = [node]
        activation = layerActivation
      }
      if let activation {
        let last = layerNodes.last!.name
        layerNodes.append(
          Node(name: uniqueName("\(layer.name)_\(activation.functionName)"), op: activation, inputs: [last]))
      }
      for node in layerNodes { try add(node) }
      producedBy[layer.name] = layerNodes.last!.name
      if let axis = layer.config["axis"]?.ints?.first, axis > 0, layer.className.hasSuffix("Normalization") {
        axisChecks.append((layer.name, axis))
      }
    }
    let graph: Graph
    do {
      graph = try Graph(
        name: modelName, nodes: nodes,
        outputs: try outputs.map {
          try $0.map { name in
            guard let node = producedBy[name] else { throw GraphError.unknownOutput(name) }
            return node
          }
        })
    } catch let error as GraphError {
      throw ModelIOError.invalidGraph(file: file, error: error)
    }
    for (name, axis) in axisChecks where axis != graph.node(name)!.shape.count {
      throw ModelIOError.unsupportedSetting(
        file: file, layer: name, setting: "axis", value: "\(axis) (only the last axis is supported)")
    }
    return graph
  }

  /// A model's layers, each with the layers it reads, and the layers that hold its outputs
  /// (nil: the last); nested models are inlined (``inlineNestedModels(_:outputs:translator:)``).
  static func layers(of className: String, _ body: JSONValue?, translator: KerasLayerTranslator) throws
    -> (layers: [KerasLayer], outputs: [String]?)
  {
    let file = translator.file
    let layerList = body?["layers"]?.array ?? body?.array
    guard let layerList else { throw ModelIOError.badConfig(file: file, detail: "no 'layers' list") }
    var layers = try layerList.enumerated().map { index, entry in
      guard let layerClass = entry["class_name"]?.string, let layerConfig = entry["config"] else {
        throw ModelIOError.badConfig(file: file, detail: "layer \(index) has no 'class_name' or 'config'")
      }
      guard let name = entry["name"]?.string ?? layerConfig["name"]?.string else {
        throw ModelIOError.badConfig(file: file, detail: "layer \(index) (\(layerClass)) has no name")
      }
      return KerasLayer(name: name, className: layerClass, config: layerConfig, inbound: [])
    }
    var outputs: [String]?
    switch className {
    case "Sequential":
      layers = try chainSequential(layers, translator: translator)
    case "Functional", "Model":
      for index in layers.indices {
        if ["TFOpLambda", "SlicingOpLambda"].contains(layers[index].className) {
          layers[index] = try KerasTFOperations.translate(
            layers[index], inboundNodes: layerList[index]["inbound_nodes"], file: file)
          continue
        }
        layers[index].inbound = try inboundLayers(
          layerList[index]["inbound_nodes"], layer: layers[index].name, file: file)
        layers[index].constants = operationConstants(layerList[index]["inbound_nodes"])
      }
      outputs = layerReferences(body?["output_layers"])
    default:
      throw ModelIOError.badConfig(
        file: file, detail: "model class '\(className)' is neither Sequential nor Functional")
    }
    return try inlineNestedModels(layers, outputs: outputs, translator: translator)
  }

  /// Replaces every layer that is itself a model by that model's layers: each named
  /// `model_layer` (with `_` appended while the name is taken; Keras forbids `/` in layer
  /// names, and PyTorch-based NIR importers `.`), its input layers replaced by what the model is called on, and readers of the
  /// model reading its output layer instead. Weights stay where Keras put them, in the nested
  /// model's group of `model_weights` (``KerasLayer/scope``).
  static func inlineNestedModels(_ layers: [KerasLayer], outputs: [String]?, translator: KerasLayerTranslator)
    throws -> (layers: [KerasLayer], outputs: [String]?)
  {
    let file = translator.file
    var result = [KerasLayer]()
    var output = [String: String]()  // a nested model's name → the layer holding its output
    var used = Set(layers.map(\.name))
    for var layer in layers {
      layer.inbound = layer.inbound.map { output[$0] ?? $0 }
      guard nestedModelClasses.contains(layer.className) else {
        result.append(layer)
        continue
      }
      let inner = try self.layers(of: layer.className, layer.config, translator: translator)
      let inputs = inner.layers.filter { $0.className == "InputLayer" }.map(\.name)
      guard inputs.count == layer.inbound.count else {
        throw ModelIOError.badConfig(
          file: file,
          detail:
            "nested model '\(layer.name)' has \(inputs.count) inputs and is called on \(layer.inbound.count)")
      }
      let innerOutputs = inner.outputs ?? inner.layers.last.map { [$0.name] } ?? []
      guard innerOutputs.count == 1 else {
        throw ModelIOError.unsupportedSetting(
          file: file, layer: layer.name, setting: "outputs",
          value: "\(innerOutputs.count) (a nested model with one output is supported)")
      }
      var renamed = Dictionary(zip(inputs, layer.inbound), uniquingKeysWith: { first, _ in first })
      for var member in inner.layers where member.className != "InputLayer" {
        var name = "\(layer.name)_\(member.name)"
        while used.contains(name) { name += "_" }
        used.insert(name)
        member.inbound = try member.inbound.map { source in
          guard let resolved = renamed[source] else {
            throw ModelIOError.badConfig(
              file: file,
              detail: "layer '\(member.name)' of nested model '\(layer.name)' reads unknown layer '\(source)'"
            )
          }
          return resolved
        }
        member.innerName = member.innerName ?? member.name
        member.scope = [layer.name] + member.scope
        renamed[member.name] = name
        member.name = name
        result.append(member)
      }
      guard let last = renamed[innerOutputs[0]] else {
        throw ModelIOError.badConfig(
          file: file, detail: "nested model '\(layer.name)' outputs unknown layer '\(innerOutputs[0])'")
      }
      output[layer.name] = last
    }
    return (result, outputs?.map { output[$0] ?? $0 })
  }

  /// Links Sequential layers in order, adding the input layer Keras 2 leaves implicit.
  static func chainSequential(_ layers: [KerasLayer], translator: KerasLayerTranslator) throws -> [KerasLayer]
  {
    guard let first = layers.first else {
      throw ModelIOError.badConfig(file: translator.file, detail: "the Sequential model has no layers")
    }
    var chained = layers
    if first.className != "InputLayer" {
      guard let shape = translator.declaredInputShape(first) else {
        throw ModelIOError.badConfig(
          file: translator.file,
          detail: "the Sequential model declares no input shape (build it before saving)")
      }
      let input = KerasLayer(
        name: "input", className: "InputLayer",
        config: ["batch_shape": .array([nil] + shape.map { .number(Double($0)) })],
        inbound: [])
      chained.insert(input, at: 0)
    }
    for index in chained.indices.dropFirst() { chained[index].inbound = [chained[index - 1].name] }
    return chained
  }

  /// The layer names a Functional layer's `inbound_nodes` refer to (Keras 2 and Keras 3 forms).
  static func inboundLayers(_ value: JSONValue?, layer: String, file: String) throws -> [String] {
    guard let calls = value?.array, !calls.isEmpty else { return [] }
    guard calls.count == 1 else {
      throw ModelIOError.unsupportedSetting(
        file: file, layer: layer, setting: "shared layer", value: "called \(calls.count) times")
    }
    var names = [String]()
    func collect(_ value: JSONValue) throws {
      if let history = value["config"]?["keras_history"]?.array,
        value["class_name"]?.string == "__keras_tensor__"
      {
        try append(history)
      } else if let items = value.array, items.first?.string != nil, items.count >= 3 {
        try append(items)  // Keras 2: [name, node_index, tensor_index, kwargs]
      } else if let items = value.array {
        for item in items { try collect(item) }
      } else if let args = value["args"] {
        try collect(args)
      }
    }
    func append(_ history: [JSONValue]) throws {
      guard let name = history.first?.string else { return }
      if (history.count > 1 ? history[1].int : 0) != 0 || (history.count > 2 ? history[2].int : 0) != 0 {
        throw ModelIOError.unsupportedSetting(
          file: file, layer: layer, setting: "input",
          value:
            "output \(history.dropFirst().prefix(2).map(\.text)) of '\(name)' (shared or multi-output layers are not supported)"
        )
      }
      names.append(name)
    }
    try collect(calls[0])
    return names
  }

  /// The arguments of a Keras 3 call that are numbers, with their positions: what `x + 3.0` or
  /// `2 * x` saves beside the tensor (a layer called on a list of tensors has none).
  static func operationConstants(_ value: JSONValue?) -> [(position: Int, value: JSONValue)] {
    guard let args = value?.array?.first?["args"]?.array else { return [] }
    return args.enumerated().compactMap { position, argument in
      argument.double == nil ? nil : (position, argument)
    }
  }

  /// `[["d1", 0, 0]]`, `["d1", 0, 0]` or `[["a",0,0],["b",0,0]]` → layer names.
  static func layerReferences(_ value: JSONValue?) -> [String]? {
    guard let items = value?.array, !items.isEmpty else { return nil }
    if let name = items.first?.string { return [name] }
    let names = items.compactMap { $0.array?.first?.string }
    return names.isEmpty ? nil : names
  }

  /// Reads the parameters an op needs from `model_weights/<layer>` (see
  /// ``readWeights(for:expected:weights:file:)``).
  static func readParameters(for layer: KerasLayer, op: Op, weights: HDF5Group, file: String) throws
    -> [String: Tensor<Float>]
  {
    // The input's channels are not known here (-1): every other dimension is checked before
    // a weight is read, so a file cannot make the reader allocate what it claims.
    try readWeights(for: layer, expected: op.parameterShapes(input: [-1]), weights: weights, file: file)
  }

  /// Reads the weights `expected` (names and shapes, −1 for a dimension not checked) from
  /// `model_weights/<layer>`, matching each expected name (`kernel`, `bias`, `gamma` …) to a
  /// `weight_names` entry by its last path component, or by position when names do not tell. A
  /// layer of a nested model finds its weights in the outermost nested model's group, among the
  /// `weight_names` whose path ends in `<layer>/<weight>` (`c1/kernel` for a Functional base,
  /// `mid/pw/kernel` for a Sequential one, `c1/kernel:0` from Keras 2).
  static func readWeights(
    for layer: KerasLayer, expected expectedShapes: [(name: String, shape: [Int])], weights: HDF5Group,
    file: String
  ) throws -> [String: Tensor<Float>] {
    let expected = expectedShapes.map(\.name)
    let groupName = layer.scope.first ?? layer.name
    let owner = layer.innerName ?? layer.name
    var names = [String]()
    if weights.kind(of: groupName) == .group {
      names = try splitStringAttribute(try weights.group(groupName), "weight_names")
      if !layer.scope.isEmpty {
        names = names.filter { weight in
          let parts = weight.split(separator: "/")
          return parts.count >= 2 && parts[parts.count - 2] == owner
        }
      }
    }
    guard !expected.isEmpty else {
      if !names.isEmpty {
        throw ModelIOError.unexpectedWeights(file: file, layer: layer.name, stored: names, expected: [])
      }
      return [:]
    }
    let groupPath = joinedPath(weights.path, groupName)
    guard weights.kind(of: groupName) == .group else {
      throw ModelIOError.missingWeight(file: file, layer: layer.name, weight: expected[0], path: groupPath)
    }
    let group = try weights.group(groupName)
    guard names.count <= expected.count else {
      throw ModelIOError.unexpectedWeights(file: file, layer: layer.name, stored: names, expected: expected)
    }
    var parameters = [String: Tensor<Float>]()
    for (position, parameter) in expected.enumerated() {
      let match =
        names.first { baseName($0) == parameter }
        ?? (names.count == expected.count ? names[position] : nil)
      guard let weightName = match, group.kind(of: weightName) == .dataset else {
        throw ModelIOError.missingWeight(
          file: file, layer: layer.name, weight: parameter,
          path: joinedPath(groupPath, match ?? "\(owner)/\(parameter)"))
      }
      let dataset = try group.dataset(weightName)
      let shape = try dataset.shape
      let pattern = expectedShapes[position].shape.map { $0 < 0 ? nil : $0 }
      guard shape.count == pattern.count, zip(shape, pattern).allSatisfy({ $1 == nil || $0 == $1 }) else {
        throw ModelIOError.weightShape(
          file: file, layer: layer.name, path: dataset.path, expected: pattern, actual: shape)
      }
      parameters[parameter] = Tensor(shape: shape, scalars: try dataset.read(as: Float.self))
    }
    return parameters
  }

  /// `kernel` from `dense/kernel:0` or `sequential/dense/kernel`.
  static func baseName(_ weightName: String) -> String {
    let last = weightName.split(separator: "/").last.map(String.init) ?? weightName
    if let colon = last.lastIndex(of: ":") { return String(last[..<colon]) }
    return last
  }

  /// A string-list attribute that Keras may have split into `name0`, `name1`, … when it exceeded
  /// HDF5's 64 KiB attribute limit. An empty float array (what Keras writes for no names) is `[]`.
  static func splitStringAttribute(_ object: HDF5Object, _ name: String) throws -> [String] {
    if object.hasAttribute(name) {
      let info = try object.attributeInfo(name)
      return info.type == .string ? try object.readStringAttribute(name) : []
    }
    var values = [String]()
    var chunk = 0
    while object.hasAttribute("\(name)\(chunk)") {
      values += try object.readStringAttribute("\(name)\(chunk)")
      chunk += 1
    }
    return values
  }

  static func joinedPath(_ base: String, _ name: String) -> String {
    base.hasSuffix("/") ? base + name : base + "/" + name
  }
}
