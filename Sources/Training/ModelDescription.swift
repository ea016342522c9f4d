import AtomicFile
import Foundation
import Graph
import Tensor

/// A small JSON description of a sequential network, for `snntrain fit --model file.json`:
///
/// ```json
/// {"name": "small-cnn", "input": [28, 28, 1], "layers": [
///   {"type": "conv2d", "filters": 16, "kernel": 3, "padding": "same", "activation": "relu"},
///   {"type": "maxpool", "size": 2},
///   {"type": "flatten"},
///   {"type": "residual", "layers": [{"type": "dense", "units": 64, "activation": "gelu"}, {"type": "dense", "units": 64}]},
///   {"type": "dense", "units": 10}]}
/// ```
///
/// Layer types: `dense` (`units`, `activation`, `bias`), `conv2d` (`filters`, `kernel`, `strides`,
/// `padding`, `activation`, `bias`), `maxpool` / `avgpool` (`size`, `strides`, `padding`),
/// `globalavgpool`, `flatten`, `batchnorm`, `layernorm`, `dropout` (`rate`), `softmax` (over the
/// last axis), `activation` (`function`), and `residual` (`layers`, whose output is added to its
/// input — their shapes must match). Activations: the names of `UnaryFunction.named` (relu, gelu,
/// silu, leaky_relu …) and `softmax`.
public struct ModelDescription: Sendable, Decodable {
  public let name: String
  public let input: [Int]
  public let layers: [Layer]

  public struct Layer: Sendable, Decodable {
    public let type: String
    public let units: Int?
    public let filters: Int?
    public let kernel: Int?
    public let strides: Int?
    public let size: Int?
    public let padding: Padding?
    public let activation: String?
    public let function: String?
    public let bias: Bool?
    public let rate: Double?
    public let layers: [Layer]?
  }

  /// Why a description could not be built; names the file and the layer's position.
  public struct Problem: Error, CustomStringConvertible, Sendable {
    public let description: String
  }

  /// The largest description file read: 16 MiB.
  public static let maximumFileBytes = 1 << 24

  /// Reads a description file.
  public static func load(_ path: String) throws -> ModelDescription {
    do {
      return try JSONDecoder().decode(
        ModelDescription.self, from: InputFile.read(path, limit: maximumFileBytes))
    } catch let error as FileReadError {
      throw Problem(description: error.description)
    } catch let error as DecodingError {
      throw Problem(description: "\(path): not a model description: \(Self.explain(error))")
    } catch {
      throw Problem(description: "\(path): \(error.localizedDescription)")
    }
  }

  static func explain(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, let context):
      return "missing '\(key.stringValue)' at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
      return
        "\(context.debugDescription) at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
    @unknown default:
      return "\(error)"
    }
  }

  static func activation(_ name: String, at position: String) throws -> UnaryFunction {
    guard let function = UnaryFunction(named: name) else {
      throw Problem(
        description:
          "layer \(position): unknown activation '\(name)' (known: \(UnaryFunction.namesList), softmax)")
    }
    return function
  }

  /// Appends the activation `name` names: an elementwise function, or a softmax over the last axis.
  private static func activate(_ name: String, at position: String, _ builder: inout GraphBuilder) throws {
    if name == "softmax" { return try builder.softmax() }
    try builder.activate(try activation(name, at: position))
  }

  /// Reads a description file and builds its graph; every error names the file.
  public static func build(file path: String, random: inout SplitMix64) throws -> Graph {
    do { return try load(path).build(random: &random) } catch let problem as Problem
      where !problem.description.hasPrefix(path)
    {
      throw Problem(description: "\(path): \(problem.description)")
    }
  }

  /// Builds the graph with initialized parameters (as ``ModelPreset/build(activation:inputShape:classes:random:)``).
  public func build(random: inout SplitMix64) throws -> Graph {
    var builder = GraphBuilder(random: random, activation: .relu)
    do {
      try builder.input(input)
      try append(layers, to: &builder, prefix: "")
      random = builder.random
      return try Graph(name: name, nodes: builder.nodes)
    } catch let error as GraphError {
      throw Problem(description: "model '\(name)': \(error)")
    }
  }

  private func append(_ layers: [Layer], to builder: inout GraphBuilder, prefix: String) throws {
    for (index, layer) in layers.enumerated() {
      let position = "\(prefix)\(index + 1) (\(layer.type))"
      func need<T>(_ value: T?, _ key: String) throws -> T {
        guard let value else { throw Problem(description: "layer \(position) needs '\(key)'") }
        return value
      }
      switch layer.type {
      case "dense":
        let units = try need(layer.units, "units")
        guard units > 0 else { throw Problem(description: "layer \(position): units must be positive") }
        try builder.dense(units, useBias: layer.bias ?? true)
      case "conv2d":
        let filters = try need(layer.filters, "filters")
        guard filters > 0 else { throw Problem(description: "layer \(position): filters must be positive") }
        try builder.conv(
          filters, kernel: layer.kernel ?? 3, strides: layer.strides ?? 1, padding: layer.padding ?? .same,
          useBias: layer.bias ?? true)
      case "maxpool", "avgpool":
        try builder.pool(
          layer.type == "maxpool" ? .max : .average, size: layer.size ?? 2, strides: layer.strides,
          padding: layer.padding ?? .valid)
      case "globalavgpool": try builder.globalAveragePool()
      case "flatten": try builder.flatten()
      case "batchnorm": try builder.batchNorm()
      case "layernorm": try builder.layerNorm()
      case "dropout": try builder.dropout(layer.rate ?? 0.5)
      case "softmax": try builder.softmax()
      case "activation":
        try Self.activate(try need(layer.function, "function"), at: position, &builder)
      case "residual":
        let skip = builder.last
        try append(try need(layer.layers, "layers"), to: &builder, prefix: "\(prefix)\(index + 1).")
        try builder.add(skip)
      default:
        throw Problem(
          description:
            "layer \(position): unknown type (dense, conv2d, maxpool, avgpool, globalavgpool, flatten, batchnorm, layernorm, dropout, softmax, activation, residual)"
        )
      }
      if let name = layer.activation, layer.type == "dense" || layer.type == "conv2d" {
        try Self.activate(name, at: position, &builder)
      }
    }
  }
}
