import Graph
import Tensor

extension LoweringPlan {
  /// A NIR graph laid out for the engine (docs/nir.md, "Running NIR graphs"): its Input a
  /// constant, its affine nodes (Affine, Linear, Scale, Conv2d, the poolings) affine maps, its
  /// neurons stages of ``NIRNeurons``, Identity, Flatten and Output aliases, and where edges
  /// meet, a sum. Images are stored channels-last, as the engine's convolutions read them: an
  /// image-shaped node (`C×H×W` in NIR) holds its values in `H×W×C` order, the nodes that act
  /// per element hold theirs in their input's order (their parameters reordered to match), and
  /// a selection (zero padding, or a change of order) goes in where a node needs another — a
  /// padded or channels-last image before a convolution or pooling, the graph's own order
  /// before the readout. A recurrent edge is a selection placed before the node it feeds, so
  /// that it reads its source before the source runs in the step: the previous step's output.
  /// The readout is the Output's input, summed over the steps.
  init(nir graph: NIRGraph, capacity: Int) {
    var lowering = NIRLowering(graph: graph, capacity: capacity)
    lowering.lower()
    let count = lowering.kinds.count
    let readout = lowering.readout
    let owner = Self.owner(of: readout, kinds: lowering.kinds, inputs: lowering.inputs)
    let (bufferOf, bufferSizes) = Self.buffers(
      lowering.kinds, inputs: lowering.inputs, sizes: lowering.sizes, update: .dense, readoutOwner: owner,
      persistent: lowering.delayed)
    nodes = (0..<count).map { position in
      LoweredNode(
        name: lowering.names[position], size: lowering.sizes[position], buffer: bufferOf[position],
        inputs: lowering.inputs[position], kind: lowering.kinds[position])
    }
    self.readout = readout
    spikeDrives = [SpikeDrive?](repeating: nil, count: count)
    spikeSources = []
    readsEstimate = [Bool](repeating: true, count: count)
    trackedBuffers = []
    self.bufferSizes = bufferSizes
    (scratchSize, workspaceSize) = Self.scratch(
      lowering.kinds, sizes: lowering.sizes, update: .dense, spikeDrives: spikeDrives)
    inputSize = graph.nodes[graph.input].count
    columnsSize = lowering.columnsSize
    summed = (0..<count).map { $0 == readout }
    delayed = lowering.delayed
  }
}

/// The lowering of one NIR graph, node by node in the order a step runs them
/// (``LoweringPlan/init(nir:capacity:)``).
struct NIRLowering {
  let graph: NIRGraph
  let capacity: Int
  private(set) var kinds = [LoweredNode.Kind]()
  private(set) var inputs = [[Int]]()
  private(set) var sizes = [Int]()
  private(set) var names = [String]()
  /// Per stage, the order of its values: stored value `k` is the NIR node's value `order[k]`
  /// (channel-first); nil where the two agree.
  private var orders = [[Int]?]()
  /// The stage holding each NIR node's output, by the node's position in the graph.
  private(set) var stageOf = [Int]()
  private(set) var readout = 0
  private(set) var columnsSize = 0
  /// The stages that read a recurrent edge's source, and that source (a NIR node's position).
  private var recurrent = [(stage: Int, node: Int)]()
  /// The stages whose output a recurrent edge reads in the next step: they keep their buffer
  /// from step to step and start each batch at 0.
  private(set) var delayed = Set<Int>()

  init(graph: NIRGraph, capacity: Int) {
    self.graph = graph
    self.capacity = capacity
  }

  /// `H×W×C` order for a channel-first `C×H×W` node: stored value `(y·W + x)·C + c` is value
  /// `(c·H + y)·W + x`; nil for one channel, where both orders agree.
  static func channelsLast(_ c: Int, _ h: Int, _ w: Int) -> [Int]? {
    guard c > 1 else { return nil }
    var order = [Int]()
    order.reserveCapacity(c * h * w)
    for y in 0..<h {
      for x in 0..<w {
        for channel in 0..<c { order.append((channel * h + y) * w + x) }
      }
    }
    return order
  }

  mutating func lower() {
    for (k, node) in graph.nodes.enumerated() {
      stageOf.append(lower(node, at: k))
    }
    readout = stageOf[graph.output]
    // Each recurrent edge's stage reads its source, in NIR's order, before the source runs in
    // the step: the source's output of the previous step.
    for (stage, node) in recurrent {
      let source = stageOf[node]
      let stored = inverse(orders[source], sizes[source])
      inputs[stage] = [source]
      kinds[stage] = .affine(.gather(indices: stored.map { Int32($0) }, inputSize: sizes[source]))
      delayed.insert(LoweringPlan.owner(of: source, kinds: kinds, inputs: inputs))
    }
  }

  @discardableResult
  fileprivate mutating func append(
    _ name: String, size: Int, kind: LoweredNode.Kind, inputs: [Int], order: [Int]?
  ) -> Int {
    kinds.append(kind)
    self.inputs.append(inputs)
    sizes.append(size)
    names.append(name)
    orders.append(order)
    return kinds.count - 1
  }

  /// The stage that holds `node`'s output.
  private mutating func lower(_ node: NIRGraph.Node, at k: Int) -> Int {
    switch node.operation {
    case .input:
      let shape = node.shape
      let order = shape.count == 3 ? Self.channelsLast(shape[0], shape[1], shape[2]) : nil
      return append(node.name, size: node.count, kind: .constant, inputs: [], order: order)
    case .output:
      let source = inOrder(input(of: node), nil)
      return append(
        node.name, size: node.count, kind: .alias(isConstant(source)), inputs: [source], order: nil)
    case .pass:
      let source = input(of: node)
      return append(
        node.name, size: node.count, kind: .alias(isConstant(source)), inputs: [source], order: orders[source]
      )
    case .affine(let weight, let bias, let inputCount, let outputCount):
      var source = input(of: node)
      if sizes[source] != inputCount { source = inOrder(source, nil) }
      // Keras's `inputs × outputs` layout, rows in the order the input holds its values.
      let rows = sizes[source] == inputCount ? orders[source] : nil
      var kernel = [Float](repeating: 0, count: inputCount * outputCount)
      for i in 0..<inputCount {
        let column = rows?[i] ?? i
        for o in 0..<outputCount { kernel[i * outputCount + o] = weight[o * inputCount + column] }
      }
      return append(
        node.name, size: node.count,
        kind: .affine(.dense(kernel: kernel, bias: bias, inputWidth: inputCount, units: outputCount)),
        inputs: [source], order: nil)
    case .scale(let factors):
      let source = input(of: node)
      let order = orders[source]
      return append(
        node.name, size: node.count,
        kind: .affine(.channelAffine(scale: order.map { $0.map { factors[$0] } } ?? factors, shift: nil)),
        inputs: [source], order: order)
    case .convolution(let c):
      return convolution(node, c)
    case .pooling(let p):
      return pooling(node, p)
    case .neurons(let neurons):
      return population(node, NIRNeurons(kind: .neurons(neurons)))
    case .threshold(let thresholds):
      return population(node, NIRNeurons(kind: .threshold(thresholds)))
    }
  }

  private func isConstant(_ position: Int) -> Bool { LoweredNode.isConstant(kinds[position]) }

  private mutating func population(_ node: NIRGraph.Node, _ neurons: NIRNeurons) -> Int {
    let source = input(of: node)
    let order = orders[source]
    return append(
      node.name, size: node.count, kind: .nir(neurons.reordered(order)), inputs: [source],
      order: order)
  }

  /// The stage holding the sum of `node`'s inputs: its one source's, or a sum of them (in one
  /// order: the first's where all agree, NIR's otherwise).
  fileprivate mutating func inputStage(_ node: NIRGraph.Node) -> Int { input(of: node) }

  private mutating func input(of node: NIRGraph.Node) -> Int {
    let position = stageOf.count
    let sources = node.sources.map { source in
      guard source >= position else { return stageOf[source] }
      // A recurrent edge: a stage that will read the source's previous output (``lower()``).
      let stage = append(
        "\(graph.nodes[source].name)/previous", size: graph.nodes[source].count,
        kind: .affine(.gather(indices: [], inputSize: 0)), inputs: [], order: nil)
      recurrent.append((stage, source))
      return stage
    }
    guard sources.count > 1 else { return sources[0] }
    let order = orders[sources[0]]
    let aligned = sources.allSatisfy { orders[$0] == order } ? sources : sources.map { inOrder($0, nil) }
    return append(
      "\(node.name)/input", size: sizes[sources[0]], kind: .affine(.sum), inputs: aligned,
      order: orders[aligned[0]])
  }

  /// The stage `source` with its values in `order` (a selection where they are not already).
  private mutating func inOrder(_ source: Int, _ order: [Int]?) -> Int {
    guard orders[source] != order else { return source }
    let size = sizes[source]
    let stored = inverse(orders[source], size)
    let indices = (0..<size).map { Int32(stored[order?[$0] ?? $0]) }
    return append(
      "\(names[source])/reordered", size: size, kind: .affine(.gather(indices: indices, inputSize: size)),
      inputs: [source], order: order)
  }

  /// Where each value of a node (in NIR's order) is stored.
  private func inverse(_ order: [Int]?, _ size: Int) -> [Int] {
    guard let order else { return Array(0..<size) }
    var stored = [Int](repeating: 0, count: size)
    for (k, value) in order.enumerated() { stored[value] = k }
    return stored
  }

  /// The input of a convolution or pooling as a channels-last image with its zero padding:
  /// `C×H×W` read from `source`, `top`/`left` rows and columns of zeros before and as many
  /// after as make the padded image `height × width`.
  fileprivate mutating func paddedImage(
    _ source: Int, channels: Int, height h: Int, width w: Int, top: Int, left: Int, paddedHeight: Int,
    paddedWidth: Int
  ) -> Int {
    let plain = paddedHeight == h && paddedWidth == w && top == 0 && left == 0
    let order = Self.channelsLast(channels, h, w)
    if plain { return inOrder(source, order) }
    let stored = inverse(orders[source], sizes[source])
    var indices = [Int32]()
    indices.reserveCapacity(paddedHeight * paddedWidth * channels)
    for y in 0..<paddedHeight {
      for x in 0..<paddedWidth {
        for c in 0..<channels {
          let (iy, ix) = (y - top, x - left)
          indices.append(iy >= 0 && iy < h && ix >= 0 && ix < w ? Int32(stored[(c * h + iy) * w + ix]) : -1)
        }
      }
    }
    return append(
      "\(names[source])/padded", size: indices.count,
      kind: .affine(.gather(indices: indices, inputSize: sizes[source])), inputs: [source], order: nil)
  }
}

extension NIRLowering {
  /// A padded input's height (or width): what `outputs` windows of `span` at `stride` cover —
  /// the `before` rows of zeros, the input, and zeros after it, or the input cut where no
  /// window reaches.
  private static func padded(outputs: Int, span: Int, stride: Int) -> Int {
    (outputs - 1) * stride + span
  }

  /// PyTorch's cross-correlation as a valid convolution of the padded channels-last input: a
  /// depthwise one where every group has one input channel, an ordinary one (zeros between the
  /// groups) otherwise; a dilated kernel as the larger kernel it spans, zeros between its taps.
  fileprivate mutating func convolution(_ node: NIRGraph.Node, _ c: NIRGraph.Convolution) -> Int {
    let spanH = c.dilationHeight * (c.kernelHeight - 1) + 1
    let spanW = c.dilationWidth * (c.kernelWidth - 1) + 1
    let height = Self.padded(outputs: c.outputHeight, span: spanH, stride: c.strideHeight)
    let width = Self.padded(outputs: c.outputWidth, span: spanW, stride: c.strideWidth)
    var source = paddedImage(
      inputStage(node), channels: c.inChannels, height: c.inputHeight, width: c.inputWidth, top: c.padTop,
      left: c.padLeft, paddedHeight: height, paddedWidth: width)
    let window = Window2D(
      input: (height, width), kernel: (spanH, spanW), strides: (c.strideHeight, c.strideWidth),
      padding: .valid)!
    precondition(window.outputHeight == c.outputHeight && window.outputWidth == c.outputWidth)
    let groupIn = c.inChannels / c.groups
    let groupOut = c.outChannels / c.groups
    /// The position of tap `(row, column)` in the spanned kernel.
    func tap(_ row: Int, _ column: Int) -> Int { (row * c.dilationHeight) * spanW + column * c.dilationWidth }
    var map: LoweredNode.AffineMap
    if let channels = c.depthwise {
      (source, map) = selection(node, c, channels, of: source, window: window, tap: tap)
    } else if groupIn == 1 {
      var kernel = [Float](repeating: 0, count: spanH * spanW * c.outChannels)
      for o in 0..<c.outChannels {
        for row in 0..<c.kernelHeight {
          for column in 0..<c.kernelWidth {
            kernel[tap(row, column) * c.outChannels + o] =
              c.weight[(o * c.kernelHeight + row) * c.kernelWidth + column]
          }
        }
      }
      map = .depthwise(
        LoweredNode.Depthwise(
          kernel: kernel, bias: c.bias, window: window, channels: c.inChannels, multiplier: groupOut))
    } else {
      var kernel = [Float](repeating: 0, count: spanH * spanW * c.inChannels * c.outChannels)
      for o in 0..<c.outChannels {
        let group = o / groupOut
        for i in 0..<groupIn {
          for row in 0..<c.kernelHeight {
            for column in 0..<c.kernelWidth {
              let weight = c.weight[((o * groupIn + i) * c.kernelHeight + row) * c.kernelWidth + column]
              kernel[(tap(row, column) * c.inChannels + group * groupIn + i) * c.outChannels + o] = weight
            }
          }
        }
      }
      map = .conv2d(
        LoweredNode.Convolution(
          kernel: kernel, bias: c.bias, window: window, channels: c.inChannels, filters: c.outChannels))
      columnsSize = max(
        columnsSize,
        Tensor<Float>.conv2dColumnsCapacity(images: capacity, channels: c.inChannels, window: window))
    }
    return append(
      node.name, size: node.count, kind: .affine(map), inputs: [source],
      order: Self.channelsLast(c.outChannels, c.outputHeight, c.outputWidth))
  }

  /// A convolution whose every output channel reads one input channel (the one-hot selections
  /// of an exported max pooling, say): a depthwise convolution of those channels — gathered
  /// into place where they are not the groups a depthwise convolution reads — with the
  /// non-zero taps. `source` is the padded channels-last input.
  private mutating func selection(
    _ node: NIRGraph.Node, _ c: NIRGraph.Convolution, _ channels: [NIRGraph.ChannelTaps], of source: Int,
    window: Window2D, tap: (Int, Int) -> Int
  ) -> (Int, LoweredNode.AffineMap) {
    let positions = window.inputHeight * window.inputWidth
    let multiplier = c.outChannels % c.inChannels == 0 ? c.outChannels / c.inChannels : 0
    let inPlace = multiplier > 0 && channels.enumerated().allSatisfy { $1.channel == $0 / multiplier }
    var source = source
    if !inPlace {
      var indices = [Int32]()
      indices.reserveCapacity(positions * c.outChannels)
      for position in 0..<positions {
        for entry in channels { indices.append(Int32(position * c.inChannels + entry.channel)) }
      }
      source = append(
        "\(node.name)/channels", size: indices.count,
        kind: .affine(.gather(indices: indices, inputSize: positions * c.inChannels)), inputs: [source],
        order: nil)
    }
    var kernel = [Float](repeating: 0, count: window.kernelHeight * window.kernelWidth * c.outChannels)
    for (o, entry) in channels.enumerated() {
      for (row, column, weight) in entry.taps { kernel[tap(row, column) * c.outChannels + o] = weight }
    }
    return (
      source,
      .depthwise(
        LoweredNode.Depthwise(
          kernel: kernel, bias: c.bias, window: window, channels: inPlace ? c.inChannels : c.outChannels,
          multiplier: inPlace ? multiplier : 1))
    )
  }

  /// Sum or average pooling (PyTorch's: the padding counts in the average) of the padded
  /// channels-last input: the average over whole windows, the sum as a depthwise convolution
  /// with a kernel of ones.
  fileprivate mutating func pooling(_ node: NIRGraph.Node, _ p: NIRGraph.Pooling) -> Int {
    let height = Self.padded(outputs: p.outputHeight, span: p.kernelHeight, stride: p.strideHeight)
    let width = Self.padded(outputs: p.outputWidth, span: p.kernelWidth, stride: p.strideWidth)
    let source = paddedImage(
      inputStage(node), channels: p.channels, height: p.inputHeight, width: p.inputWidth, top: p.padTop,
      left: p.padLeft, paddedHeight: height, paddedWidth: width)
    let window = Window2D(
      input: (height, width), kernel: (p.kernelHeight, p.kernelWidth),
      strides: (p.strideHeight, p.strideWidth),
      padding: .valid)!
    precondition(window.outputHeight == p.outputHeight && window.outputWidth == p.outputWidth)
    let map: LoweredNode.AffineMap =
      p.average
      ? .averagePool(window, channels: p.channels)
      : .depthwise(
        LoweredNode.Depthwise(
          kernel: [Float](repeating: 1, count: p.kernelHeight * p.kernelWidth * p.channels), bias: nil,
          window: window, channels: p.channels, multiplier: 1))
    return append(
      node.name, size: node.count, kind: .affine(map), inputs: [source],
      order: Self.channelsLast(p.channels, p.outputHeight, p.outputWidth))
  }
}
