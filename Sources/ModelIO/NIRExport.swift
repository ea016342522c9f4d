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
    let graph = network.graph
    let populations = Dictionary(uniqueKeysWithValues: network.populations.map { ($0.node, $0) })
    for spec in network.populations {
      guard let reason = spec.dynamics.model.notExportableToNIR else { continue }
      throw NIRExportError.dynamics(population: spec.node, dynamics: spec.dynamics, reason: reason)
    }
    var nodes = [NIRNode]()
    var edges = [(String, String)]()
    var warnings = [String]()
    // What reading a graph node means in NIR: the NIR nodes whose outputs add up to it.
    var terms = [String: [String]]()
    func connect(_ input: String, to target: String) {
      for term in terms[input]! { edges.append((term, target)) }
    }
    func refuse(_ node: Node, _ reason: String) -> NIRExportError {
      .unsupportedNode(node: node.name, op: node.op.kind, reason: reason)
    }
    /// The shape a node's values had before any Flatten/Reshape between it and `name`.
    func unflattenedShape(_ name: String) -> [Int] {
      var current = graph.node(name)!
      while current.op == .flatten || { if case .reshape = current.op { true } else { false } }() {
        current = graph.node(current.inputs[0])!
      }
      return current.shape
    }
    /// A population's input offsets (``PopulationSpec/offsets``) added to the bias of the Dense
    /// or Conv2D that feeds it and nothing else (NIR's neurons have no bias of their own).
    func shiftBias(of feed: String, by offsets: [Double], for population: Node) throws {
      let source = graph.node(feed)!
      let channels = source.shape.last ?? 1
      let readers = graph.nodes.filter { $0.inputs.contains(feed) }.count
      let written = nodes.lastIndex { $0.name == nirName(feed) }
      guard source.op.kind == "Dense" || { if case .conv2d = source.op { true } else { false } }(),
        readers == 1, !graph.outputs.contains(feed), terms[feed] == [nirName(feed)], let written,
        offsets.count == 1 || offsets.count == channels
      else {
        throw refuse(
          population,
          "its input offsets (tuning's correction) fit in NIR only as the bias of a Dense or Conv2D "
            + "that feeds it alone, one per channel; convert without --target-timesteps")
      }
      let shift = (0..<channels).map { Float(offsets[$0 % offsets.count]) }
      var node = nodes[written]
      if let slot = node.parameters.firstIndex(where: { $0.0 == "bias" }),
        case .floats(let bias, let shape) = node.parameters[slot].1
      {
        node.parameters[slot].1 = .floats(zip(bias, shift).map { $0 + $1 }, shape: shape)
      } else {
        node.type = "Affine"
        node.parameters.append(("bias", .floats(shift, shape: [channels])))
      }
      nodes[written] = node
    }
    var resets = Set<String>()
    var starts = Set<String>()
    for node in graph.nodes {
      let name = nirName(node.name)
      let inputShape = node.inputs.first.map { graph.node($0)!.shape } ?? []
      if node.name == graph.outputs.first, node.op == .softmax { continue }
      if let spec = populations[node.name] {
        let neurons = node.shape.reduce(1, *)
        let inverse = (0..<neurons).map { 1 / Float(spec.scales[$0 % spec.scales.count]) }
        let lambda = (0..<neurons).map { Float(spec.scales[$0 % spec.scales.count]) }
        let shape = nirShape(node.shape)
        let membrane = MembraneIntegrateAndFire.Membrane(spec.parameters)
        var neuron = NIRNode(name: name, type: membrane.leak == nil ? "IF" : "LIF")
        let threshold = Parameter.floats([Float](repeating: 1, count: neurons), shape: shape)
        if let tau = membrane.leak {
          neuron.parameters = [
            ("tau", .floats([Float](repeating: Float(tau), count: neurons), shape: shape)),
            ("r", .floats(channelFirst(inverse.map { Float(tau) * $0 }, shape: node.shape), shape: shape)),
            ("v_leak", .floats([Float](repeating: 0, count: neurons), shape: shape)),
            ("v_threshold", threshold),
          ]
        } else {
          neuron.parameters = [
            ("r", .floats(channelFirst(inverse, shape: node.shape), shape: shape)),
            ("v_threshold", threshold),
          ]
        }
        // v_reset is left out: NIR reads its absence as 0 (and readers pinned to NIR 1.0.4
        // refuse the parameter).
        if membrane.reset == .subtract {
          neuron.metadata.append(("reset_mode", "subtract"))
          resets.insert(spec.node)
        }
        if spec.initial.contains(where: { $0 != 0 }) {
          // In units of the threshold, which is 1 here; one value, one per channel (the
          // channel order is NIR's too) or one per neuron (reordered channel-first).
          let initial =
            spec.initial.count == neurons ? channelFirst(spec.initial, shape: node.shape) : spec.initial
          neuron.metadata.append(("initial_membrane", initial.map { "\($0)" }.joined(separator: ",")))
          starts.insert(spec.node)
        }
        if !spec.offsets.isEmpty {
          try shiftBias(of: node.inputs[0], by: spec.offsets, for: node)
        }
        nodes.append(neuron)
        connect(node.inputs[0], to: name)
        let spikes = NIRNode(
          name: "\(name).spikes", type: "Scale",
          parameters: [("scale", .floats(channelFirst(lambda, shape: node.shape), shape: shape))])
        nodes.append(spikes)
        edges.append((name, spikes.name))
        terms[node.name] = [spikes.name]
        continue
      }
      switch node.op {
      case .input(let shape):
        nodes.append(
          NIRNode(
            name: name, type: "Input",
            parameters: [("shape", .integers(nirShape(shape).map(Int64.init), shape: [shape.count]))]))
        terms[node.name] = [name]
      case .dense(let units, let useBias):
        let kernel = node.parameters["kernel"]!.scalars
        let inputs = inputShape.reduce(1, *)
        let source = unflattenedShape(node.inputs[0])
        // NIR's columns follow the C×H×W order of what was flattened.
        let order = channelFirst(Array(0..<inputs), shape: source.reduce(1, *) == inputs ? source : [inputs])
        var weight = [Float](repeating: 0, count: units * inputs)
        for o in 0..<units {
          for (column, row) in order.enumerated() { weight[o * inputs + column] = kernel[row * units + o] }
        }
        var written = NIRNode(name: name, type: useBias ? "Affine" : "Linear")
        written.parameters = [("weight", .floats(weight, shape: [units, inputs]))]
        if useBias {
          written.parameters.append(("bias", .floats(node.parameters["bias"]!.scalars, shape: [units])))
        }
        nodes.append(written)
        connect(node.inputs[0], to: name)
        terms[node.name] = [name]
      case .conv2d(let a):
        guard let window = a.window(input: inputShape), var padding = symmetricPadding(window) else {
          throw refuse(node, "its 'same' padding is uneven (NIR pads both sides alike)")
        }
        // Fed by an even ZeroPadding2D (which wrote nothing): the convolution pads instead.
        var convolutionInput = inputShape
        if let pad = Self.evenPadding(graph.node(node.inputs[0])!, graph: graph) {
          convolutionInput = graph.node(graph.node(node.inputs[0])!.inputs[0])!.shape
          padding = [padding[0] + pad[0], padding[1] + pad[1]]
        }
        // Grouped and dilated convolutions are written as their ordinary equivalent (nir 1.0.8
        // infers a grouped convolution's input channels as one).
        let spanned = a.spannedKernelSize
        let (kh, kw, cin, cout) = (spanned[0], spanned[1], inputShape[2], a.filters)
        let compact = node.parameters["kernel"]!
        let kernel = (a.isDense ? compact : a.denseKernel(compact, inputChannels: cin)).scalars
        var weight = [Float](repeating: 0, count: cout * cin * kh * kw)
        for y in 0..<kh {
          for x in 0..<kw {
            for i in 0..<cin {
              for o in 0..<cout {
                weight[((o * cin + i) * kh + y) * kw + x] = kernel[((y * kw + x) * cin + i) * cout + o]
              }
            }
          }
        }
        nodes.append(
          convolution(
            name, weight: weight, shape: [cout, cin, kh, kw],
            bias: node.parameters["bias"]?.scalars ?? [Float](repeating: 0, count: cout), strides: a.strides,
            padding: padding, groups: 1, input: convolutionInput))
        connect(node.inputs[0], to: name)
        terms[node.name] = [name]
      case .windowElement(let a, let row, let column):
        // Element (row, column) of every window: a convolution with a one-hot kernel.
        guard let window = a.window(input: inputShape), window.padTop == 0 && window.padLeft == 0,
          window.outputHeight == (inputShape[0] - a.size[0]) / a.strides[0] + 1,
          window.outputWidth == (inputShape[1] - a.size[1]) / a.strides[1] + 1
        else {
          throw refuse(node, "a pooling window that overhangs the input picks a clamped element")
        }
        // Written as a full convolution (channel c to channel c only) rather than a grouped
        // one: nir 1.0.8 infers a grouped convolution's input channels as one.
        let channels = inputShape[2]
        let (kh, kw) = (a.size[0], a.size[1])
        var weight = [Float](repeating: 0, count: channels * channels * kh * kw)
        for c in 0..<channels { weight[((c * channels + c) * kh + row) * kw + column] = 1 }
        nodes.append(
          convolution(
            name, weight: weight, shape: [channels, channels, kh, kw],
            bias: [Float](repeating: 0, count: channels), strides: a.strides, padding: [0, 0], groups: 1,
            input: inputShape))
        connect(node.inputs[0], to: name)
        terms[node.name] = [name]
      case .pool2d(let a) where a.mode == .average:
        guard let window = a.window(input: inputShape), window.padTop == 0 && window.padLeft == 0,
          window.outputHeight == (inputShape[0] - a.size[0]) / a.strides[0] + 1,
          window.outputWidth == (inputShape[1] - a.size[1]) / a.strides[1] + 1
        else {
          throw refuse(node, "Keras averages a padded window over its inside only, NIR over the whole window")
        }
        nodes.append(
          NIRNode(
            name: name, type: "AvgPool2d",
            parameters: [
              ("kernel_size", .integers(a.size.map(Int64.init), shape: [2])),
              ("stride", .integers(a.strides.map(Int64.init), shape: [2])),
              ("padding", .integers([0, 0], shape: [2])),
            ]))
        connect(node.inputs[0], to: name)
        terms[node.name] = [name]
      case .flatten:
        let shape = nirShape(inputShape)
        nodes.append(
          NIRNode(
            name: name, type: "Flatten",
            parameters: [
              ("start_dim", .integers([0], shape: [])), ("end_dim", .integers([-1], shape: [])),
              ("input_type", .integers(shape.map(Int64.init), shape: [shape.count])),
            ]))
        connect(node.inputs[0], to: name)
        terms[node.name] = [name]
      case .dropout, .activation(.identity):
        terms[node.name] = terms[node.inputs[0]]
      case .zeroPad2d where Self.evenPadding(node, graph: graph) != nil:
        // Written as the padding of the unpadded convolutions that read it.
        terms[node.name] = terms[node.inputs[0]]
      case .add, .binary(.add):
        terms[node.name] = node.inputs.flatMap { terms[$0]! }
      case .binary(.subtract):
        // a − b: b's terms through a Scale of −1.
        let negated = NIRNode(
          name: "\(name).negated", type: "Scale",
          parameters: [
            (
              "scale",
              .floats([Float](repeating: -1, count: node.shape.reduce(1, *)), shape: nirShape(node.shape))
            )
          ])
        nodes.append(negated)
        connect(node.inputs[1], to: negated.name)
        terms[node.name] = terms[node.inputs[0]]! + [negated.name]
      default:
        throw refuse(node, "no NIR node computes it")
      }
    }
    let output = NIRNode(
      name: "output", type: "Output",
      parameters: [
        (
          "shape",
          .integers(
            nirShape(graph.node(network.readout)!.shape).map(Int64.init),
            shape: [graph.node(network.readout)!.shape.count])
        )
      ])
    guard !nodes.contains(where: { $0.name == output.name }) else {
      throw NIRExportError.unsupportedNode(
        node: "output", op: "name", reason: "the name is taken by NIR's Output node; rename the layer")
    }
    nodes.append(output)
    connect(network.readout, to: output.name)
    for population in network.populations.map(\.node) where resets.contains(population) {
      warnings.append(
        "'\(nirName(population))' resets by subtraction, which NIR's IF and LIF cannot say: it is written with metadata reset_mode = \"subtract\", which this toolkit honours on reading; SpikingJelly, Norse, snnTorch and Sinabs ignore it and reset to zero, which changes what the network computes (convert with --reset zero for a graph they run as written)"
      )
    }
    if !starts.isEmpty {
      warnings.append(
        "NIR starts every membrane at 0: the starting membrane of \(starts.count) population(s) is written as metadata initial_membrane, which this toolkit honours on reading; other frameworks start at 0, which changes what the network computes (convert with --initial-membrane 0 for a graph they run as written)"
      )
    }
    return (nodes, edges, warnings)
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
