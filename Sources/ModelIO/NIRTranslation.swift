import Graph
import Spiking

extension NIRExport {
  /// A spiking network being written as NIR nodes and edges, graph node by graph node in order
  /// (``NIRExport/translate(_:)``).
  struct Translation {
    let network: SpikingNetwork
    let graph: Graph
    let populations: [String: PopulationSpec]
    var nodes = [NIRNode]()
    var edges = [(String, String)]()
    /// What reading a graph node means in NIR: the NIR nodes whose outputs add up to it.
    var terms = [String: [String]]()
    /// The populations that reset by subtraction, and those that start above rest.
    var resets = Set<String>()
    var starts = Set<String>()

    init(_ network: SpikingNetwork) {
      self.network = network
      graph = network.graph
      populations = Dictionary(uniqueKeysWithValues: network.populations.map { ($0.node, $0) })
    }

    mutating func connect(_ input: String, to target: String) {
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
    /// or Conv2D that feeds it and nothing else — directly, or as one term of a residual add
    /// that feeds it alone (NIR's neurons have no bias of their own).
    mutating func shiftBias(of feed: String, by offsets: [Double], for population: Node) throws {
      let channels = graph.node(feed)!.shape.last ?? 1
      /// The NIR node of `name` when a Dense or Conv2D read by nothing but `reader`.
      func biased(_ name: String, readBy reader: String) -> Int? {
        let node = graph.node(name)!
        let isMap = node.op.kind == "Dense" || { if case .conv2d = node.op { true } else { false } }()
        let readers = graph.nodes.filter { $0.inputs.contains(name) }.map(\.name)
        guard isMap, readers == [reader], !graph.outputs.contains(name), terms[name] == [nirName(name)]
        else { return nil }
        return nodes.lastIndex { $0.name == nirName(name) }
      }
      var written = biased(feed, readBy: population.name)
      if written == nil, graph.node(feed)!.op == .add || graph.node(feed)!.op == .binary(.add),
        graph.nodes.filter({ $0.inputs.contains(feed) }).map(\.name) == [population.name],
        !graph.outputs.contains(feed)
      {
        written = graph.node(feed)!.inputs.compactMap { biased($0, readBy: feed) }.first
      }
      guard let written, offsets.count == 1 || offsets.count == channels else {
        throw refuse(
          population,
          "its input offsets (tuning's correction) fit in NIR only as the bias of a Dense or Conv2D "
            + "that feeds it alone (or a residual add that does), one per channel; convert with "
            + "--no-input-correction")
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

    /// Writes graph node `node` (read after every node it reads).
    mutating func add(_ node: Node) throws {
      let name = nirName(node.name)
      let inputShape = node.inputs.first.map { graph.node($0)!.shape } ?? []
      if node.name == graph.outputs.first, node.op == .softmax { return }
      if let spec = populations[node.name] { return try addPopulation(spec, node) }
      switch node.op {
      case .input(let shape):
        nodes.append(
          NIRNode(
            name: name, type: "Input",
            parameters: [("shape", .integers(nirShape(shape).map(Int64.init), shape: [shape.count]))]))
        terms[node.name] = [name]
      case .dense(let units, let useBias):
        addDense(node, units: units, useBias: useBias)
      case .conv2d(let a):
        try addConvolution(node, a)
      case .windowElement(let a, let row, let column):
        try addWindowElement(node, a, row: row, column: column)
      case .pool2d(let a) where a.mode == .average:
        try addAveragePooling(node, a)
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
      case .zeroPad2d where NIRExport.evenPadding(node, graph: graph) != nil:
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

    /// A population: an IF or LIF node (`r = 1/λ` per neuron, threshold 1) and a `Scale` of λ
    /// after it.
    mutating func addPopulation(_ spec: PopulationSpec, _ node: Node) throws {
      let name = nirName(node.name)
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
    }

    /// A Dense layer: `Affine`, or `Linear` without a bias, its columns in NIR's C×H×W order.
    mutating func addDense(_ node: Node, units: Int, useBias: Bool) {
      let name = nirName(node.name)
      let inputShape = graph.node(node.inputs[0])!.shape
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
    }

    /// A convolution (grouped and dilated ones as their ordinary equivalent).
    mutating func addConvolution(_ node: Node, _ a: Conv2DAttributes) throws {
      let name = nirName(node.name)
      let inputShape = graph.node(node.inputs[0])!.shape
      guard let window = a.window(input: inputShape), var padding = symmetricPadding(window) else {
        throw refuse(node, "its 'same' padding is uneven (NIR pads both sides alike)")
      }
      // Fed by an even ZeroPadding2D (which wrote nothing): the convolution pads instead.
      var convolutionInput = inputShape
      if let pad = NIRExport.evenPadding(graph.node(node.inputs[0])!, graph: graph) {
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
    }

    /// Whether the pooling windows of `a` lie inside an input of `shape` without padding, as NIR
    /// reads them.
    static func tiles(_ a: Pool2DAttributes, _ shape: [Int]) -> Bool {
      guard let window = a.window(input: shape) else { return false }
      return window.padTop == 0 && window.padLeft == 0
        && window.outputHeight == (shape[0] - a.size[0]) / a.strides[0] + 1
        && window.outputWidth == (shape[1] - a.size[1]) / a.strides[1] + 1
    }

    /// Element (row, column) of every pooling window.
    mutating func addWindowElement(_ node: Node, _ a: Pool2DAttributes, row: Int, column: Int) throws {
      let name = nirName(node.name)
      let inputShape = graph.node(node.inputs[0])!.shape
      // Element (row, column) of every window: a convolution with a one-hot kernel.
      guard Self.tiles(a, inputShape) else {
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
    }

    /// An average pooling without padding.
    mutating func addAveragePooling(_ node: Node, _ a: Pool2DAttributes) throws {
      let name = nirName(node.name)
      let inputShape = graph.node(node.inputs[0])!.shape
      guard Self.tiles(a, inputShape) else {
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
    }

    /// The `Output` node, read from the readout, and what NIR or its readers cannot take exactly.
    mutating func finish() throws -> [String] {
      var warnings = [String]()
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
      return warnings
    }
  }
}
