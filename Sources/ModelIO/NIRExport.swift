import AtomicFile
import Foundation
import Graph
import HDF5
import Spiking
import Tensor

/// Why a spiking network cannot be written as NIR.
public enum NIRExportError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Populations whose dynamics NIR has no primitive for.
  case dynamics(population: String, dynamics: Dynamics, reason: String)
  /// A node NIR cannot express exactly.
  case unsupportedNode(node: String, op: String, reason: String)

  public var description: String {
    switch self {
    case .dynamics(let population, let dynamics, let reason):
      return
        "population '\(population)' runs \(dynamics.rawValue) neurons, which NIR cannot express: \(reason)"
    case .unsupportedNode(let node, let op, let reason):
      return "'\(node)' (\(op)) has no exact NIR form: \(reason)"
    }
  }
}

/// Writes spiking networks of membrane neurons as NIR graphs (Neuromorphic Intermediate
/// Representation, the HDF5 layout of the `nir` package 1.0; docs/nir.md).
///
/// The file holds `/version` (a string) and `/node`, a `NIRGraph`: `type`, `edges` (N×2
/// strings, source → target) and `nodes/<name>/` groups with a `type` string and one dataset per
/// parameter; anything else NIR has no parameter for goes under a node's `metadata/`. Node names
/// are the graph's, with `/` (a group separator in HDF5) written as `.`.
///
/// NIR follows PyTorch's channel-first layout, so every image-shaped array is permuted from the
/// toolkit's channel-last one: Input and neuron parameters `(C, H, W)`, convolution weights
/// `(out, in, kH, kW)`, and the columns of a Dense layer after a Flatten reordered to the
/// `C×H×W` order. Each population becomes an `IF` (or, leaky, `LIF`) node with `r = 1/λ`
/// (`τ/λ`), `v_threshold = 1`, followed by a `Scale` node of λ that carries its spikes to the
/// next layer, so the affine maps are the ANN's own. Several edges into a node add up, which
/// expresses sums; a difference goes through a `Scale` of −1.
public enum NIRExport {
  /// The version of the NIR format written.
  public static let version = "1.0.8"

  /// A NIR node as written: its type and parameters in order.
  struct NIRNode {
    var name: String
    var type: String
    var parameters: [(String, Parameter)] = []
    var metadata: [(String, String)] = []
  }

  enum Parameter {
    case floats([Float], shape: [Int])
    case integers([Int64], shape: [Int])
  }

  /// How a network is written.
  public enum Form: String, Sendable, CaseIterable {
    /// Population scales folded into the weights around them: IF and LIF nodes with `r = 1`,
    /// `v_threshold` the float just above 1 (so that `v > θ` and `v ≥ θ` readers agree), no `Scale` node where one can be folded, names of letters, digits and
    /// underscores — what other frameworks import (``NIRPortable``).
    case portable
    /// Each population as an IF/LIF node with `r = 1/λ` per neuron and a `Scale` of λ after it:
    /// the toolkit's own arithmetic, float for float, for round trips into this toolkit.
    case exact
  }

  /// Writes `network` to `path` atomically and returns what NIR or its readers could not take
  /// exactly (reset by subtraction, a starting membrane), one sentence each.
  /// - Throws: ``NIRExportError`` for a network NIR cannot express, before anything is written.
  public static func write(_ network: SpikingNetwork, to path: String, form: Form = .portable) throws
    -> [String]
  {
    var (nodes, edges, warnings) = try translate(network)
    if form == .portable {
      let portable: NIRPortable
      do { portable = try NIRPortable(nodes: nodes, edges: edges) } catch let error as NIRGraphError {
        throw NIRExportError.unsupportedNode(
          node: error.node ?? "graph", op: "NIR", reason: "the portable form does not run: \(error.detail)")
      }
      (nodes, edges) = (portable.nodes, portable.edgePairs)
      warnings += portable.warnings
    }
    do {
      try AtomicFile.write(to: path) { temporary in
        let root = try HDF5File.create(temporary).root
        try root.writeDataset("version", strings: [version], shape: [])
        let graph = try root.createGroup("node")
        try graph.writeDataset("type", strings: ["NIRGraph"], shape: [])
        try graph.writeDataset("edges", strings: edges.flatMap { [$0.0, $0.1] }, shape: [edges.count, 2])
        // The step the network runs with: time constants are in steps.
        try graph.createGroup("metadata").writeDataset("dt", values: [1.0], shape: [])
        let group = try graph.createGroup("nodes")
        for node in nodes {
          let written = try group.createGroup(node.name)
          try written.writeDataset("type", strings: [node.type], shape: [])
          for (name, parameter) in node.parameters {
            switch parameter {
            case .floats(let values, let shape): try written.writeDataset(name, values: values, shape: shape)
            case .integers(let values, let shape):
              try written.writeDataset(name, values: values, shape: shape)
            }
          }
          if !node.metadata.isEmpty {
            let metadata = try written.createGroup("metadata")
            for (key, value) in node.metadata { try metadata.writeDataset(key, strings: [value], shape: []) }
          }
        }
        try root.file.flush()
      }
    } catch let error as HDF5Error {
      throw ModelIOError.hdf5(error)
    }
    return warnings
  }

  /// The NIR name of a graph node.
  static func nirName(_ name: String) -> String { name.replacingOccurrences(of: "/", with: ".") }

  /// `values` of a channel-last `(H, W, C)` shape in channel-first `(C, H, W)` order; other
  /// shapes unchanged.
  static func channelFirst<T>(_ values: [T], shape: [Int]) -> [T] {
    guard shape.count == 3 else { return values }
    let (h, w, c) = (shape[0], shape[1], shape[2])
    var out = values
    for y in 0..<h {
      for x in 0..<w {
        for k in 0..<c { out[(k * h + y) * w + x] = values[(y * w + x) * c + k] }
      }
    }
    return out
  }

  /// A shape in NIR's channel-first order.
  static func nirShape(_ shape: [Int]) -> [Int] { shape.count == 3 ? [shape[2], shape[0], shape[1]] : shape }

  /// The graph as NIR nodes and edges, and the warnings.
  static func translate(_ network: SpikingNetwork) throws -> (
    nodes: [NIRNode], edges: [(String, String)], warnings: [String]
  ) {
    for spec in network.populations {
      guard let reason = spec.dynamics.model.notExportableToNIR else { continue }
      throw NIRExportError.dynamics(population: spec.node, dynamics: spec.dynamics, reason: reason)
    }
    var translation = Translation(network)
    for node in network.graph.nodes { try translation.add(node) }
    let warnings = try translation.finish()
    return (translation.nodes, translation.edges, warnings)
  }

  /// The padding on each side of a window whose `same` padding is even, in PyTorch's sense
  /// (`[rows, columns]`); nil where the two sides differ.
  /// The (rows, columns) of a ZeroPadding2D that pads both sides alike and is read only by
  /// unpadded convolutions, which NIR can pad instead; nil for any other node.
  static func evenPadding(_ node: Node, graph: Graph) -> [Int]? {
    guard case .zeroPad2d(let top, let bottom, let left, let right) = node.op, top == bottom, left == right,
      !graph.outputs.contains(node.name)
    else { return nil }
    let readers = graph.nodes.filter { $0.inputs.contains(node.name) }
    let unpadded = readers.allSatisfy {
      if case .conv2d(let a) = $0.op, a.padding == .valid, $0.inputs == [node.name] { true } else { false }
    }
    return !readers.isEmpty && unpadded ? [top, left] : nil
  }

  static func symmetricPadding(_ window: Window2D) -> [Int]? {
    let totalRows = (window.outputHeight - 1) * window.strideHeight + window.kernelHeight - window.inputHeight
    let totalColumns = (window.outputWidth - 1) * window.strideWidth + window.kernelWidth - window.inputWidth
    let rows = max(totalRows, 0)
    let columns = max(totalColumns, 0)
    guard rows % 2 == 0, columns % 2 == 0, window.padTop == rows / 2, window.padLeft == columns / 2 else {
      return nil
    }
    return [rows / 2, columns / 2]
  }

  static func convolution(
    _ name: String, weight: [Float], shape: [Int], bias: [Float], strides: [Int], padding: [Int], groups: Int,
    input: [Int]
  ) -> NIRNode {
    NIRNode(
      name: name, type: "Conv2d",
      parameters: [
        ("weight", .floats(weight, shape: shape)), ("bias", .floats(bias, shape: [bias.count])),
        ("stride", .integers(strides.map(Int64.init), shape: [2])),
        ("padding", .integers(padding.map(Int64.init), shape: [2])),
        ("dilation", .integers([1, 1], shape: [2])),
        ("groups", .integers([Int64(groups)], shape: [])),
        ("input_shape", .integers([Int64(input[0]), Int64(input[1])], shape: [2])),
      ])
  }
}
