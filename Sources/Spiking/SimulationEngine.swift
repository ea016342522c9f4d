import Graph
import Tensor

/// How the input image reaches the network (DYNAMICS.md §4).
public enum InputEncoding: String, Sendable, Hashable, Codable, CaseIterable {
  /// The analog image at every step (direct encoding): the input and the affine layers fed only
  /// by it are computed once per batch.
  case analog
  /// A population of integrate-and-fire neurons (subgradient dynamics, `η_t = 1/(t+1)`) per
  /// pixel, tracking the pixel scaled to [0, 1]: rate coding, deterministic.
  case rate
  /// A population of signGD neurons (default schedule) per pixel.
  case signGD = "signgd"
}

/// A spiking network lowered for time-stepped simulation of batches of at most `capacity`
/// images: one buffer per node output, allocated once, and a kernel per node that writes into
/// it, so that a time step allocates nothing.
///
/// Flatten, Reshape, Dropout and identity activations share their input's buffer. In the event
/// engine every buffer read by an affine node also has a copy of its previous value and the
/// change since, which the affine node pushes through its linear part.
final class SimulationEngine {
  let graph: Graph
  let capacity: Int
  let engine: Engine
  let encoding: InputEncoding
  /// Per node (in graph order): its buffer, its per-sample size, whether it is recomputed every
  /// step, and its population if it has one.
  private let storage: [Int]
  let sizes: [Int]
  private let isConstant: [Bool]
  private let isAlias: [Bool]
  private let specs: [PopulationSpec?]
  private(set) var populations: [Population<Float>?]
  private let buffers: [UnsafeMutableBufferPointer<Float>]
  /// Event engine: previous value and last change of the buffers affine nodes read.
  private let previous: [Int: UnsafeMutableBufferPointer<Float>]
  private let changes: [Int: UnsafeMutableBufferPointer<Float>]
  /// Scratch: a fused population's drive or an affine map of changes; im2col columns; the raw
  /// image under spike encoding.
  private var scratch: UnsafeMutableBufferPointer<Float>
  private var columns: UnsafeMutableBufferPointer<Float>
  private var image: UnsafeMutableBufferPointer<Float>
  private let inputScale: Float
  private(set) var images = 0
  private let nodeIndex: [String: Int]
  /// Per node: the positions of its inputs, the first input's per-sample shape, its sliding
  /// window (convolution, pooling, window element), and for BatchNorm and ScaleShift the
  /// per-channel scale and shift — all fixed, so a step looks nothing up and allocates nothing.
  private let inputPositions: [[Int]]
  private let inputShapes: [[Int]]
  private let windows: [Window2D?]
  private let channelAffine: [Int: (scale: [Float], shift: [Float]?)]

  /// - Parameter inputScale: the largest input magnitude, λ of a spike-encoding population.
  init(
    _ network: SpikingNetwork, capacity: Int, engine: Engine, encoding: InputEncoding, inputScale: Float
  ) {
    let graph = network.graph
    self.graph = graph
    self.capacity = capacity
    self.engine = engine
    self.encoding = encoding
    self.inputScale = inputScale > 0 && inputScale.isFinite ? inputScale : 1
    let index = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    nodeIndex = index
    let byNode = Dictionary(uniqueKeysWithValues: network.populations.map { ($0.node, $0) })
    var specs = [PopulationSpec?]()
    var storage = [Int]()
    var sizes = [Int]()
    var isConstant = [Bool]()
    var isAlias = [Bool]()
    var isPopulation = [Bool]()
    var buffers = [UnsafeMutableBufferPointer<Float>]()
    var previous = [Int: UnsafeMutableBufferPointer<Float>]()
    var changes = [Int: UnsafeMutableBufferPointer<Float>]()
    var inputSize = 1
    var scratchSize = 0
    var columnsSize = 0
    var windows = [Window2D?]()
    var channelAffine = [Int: (scale: [Float], shift: [Float]?)]()
    let inputShapes = graph.nodes.map { node in node.inputs.first.map { graph.nodes[index[$0]!].shape } ?? []
    }
    for (position, node) in graph.nodes.enumerated() {
      switch node.op {
      case .conv2d(let a): windows.append(a.window(input: inputShapes[position]))
      case .pool2d(let a), .windowElement(let a, _, _): windows.append(a.window(input: inputShapes[position]))
      default: windows.append(nil)
      }
      switch node.op {
      case .batchNorm(let epsilon, _, _):
        let variance = node.parameters["moving_variance"]!.scalars
        let mean = node.parameters["moving_mean"]!.scalars
        let gamma = node.parameters["gamma"]?.scalars
        let beta = node.parameters["beta"]?.scalars
        let scale = variance.indices.map { (gamma?[$0] ?? 1) / (variance[$0] + Float(epsilon)).squareRoot() }
        channelAffine[position] = (scale, mean.indices.map { (beta?[$0] ?? 0) - mean[$0] * scale[$0] })
      case .scaleShift:
        channelAffine[position] = (
          node.parameters["gamma"]?.scalars ?? [Float](repeating: 1, count: node.shape.last ?? 1),
          node.parameters["beta"]?.scalars
        )
      default: break
      }
      let size = node.shape.reduce(1, *)
      let spec = byNode[node.name]
      var population = spec != nil
      // A non-affine node without a population is the final softmax, which the readout skips:
      // it is never simulated.
      var constant =
        !population && (node.inputs.allSatisfy { isConstant[index[$0]!] } || !node.op.isAffine)
      if case .input = node.op {
        inputSize = size
        constant = encoding == .analog
        population = !constant
      }
      let alias = !population && node.op.sharesInputBuffer
      specs.append(spec)
      sizes.append(size)
      isConstant.append(constant)
      isAlias.append(alias)
      isPopulation.append(population)
      if alias {
        storage.append(storage[index[node.inputs[0]]!])
      } else {
        storage.append(buffers.count)
        buffers.append(.allocate(capacity: capacity * size))
      }
      scratchSize = max(scratchSize, size)
      if case .conv2d = node.op, let window = windows[position] {
        columnsSize = max(
          columnsSize,
          Tensor<Float>.conv2dColumnsCapacity(
            images: capacity, channels: inputShapes[position].last!, window: window))
      }
    }
    for buffer in buffers { buffer.initialize(repeating: 0) }
    if engine == .event {
      for (position, node) in graph.nodes.enumerated()
      where !isPopulation[position] && !isConstant[position] && !isAlias[position] {
        for input in node.inputs {
          let buffer = storage[index[input]!]
          guard previous[buffer] == nil else { continue }
          let size = capacity * sizes[index[input]!]
          previous[buffer] = .allocate(capacity: size)
          previous[buffer]!.initialize(repeating: 0)
          changes[buffer] = .allocate(capacity: size)
          changes[buffer]!.initialize(repeating: 0)
        }
      }
    }
    self.specs = specs
    self.inputPositions = graph.nodes.map { $0.inputs.map { index[$0]! } }
    self.inputShapes = inputShapes
    self.windows = windows
    self.channelAffine = channelAffine
    self.storage = storage
    self.sizes = sizes
    self.isConstant = isConstant
    self.isAlias = isAlias
    self.buffers = buffers
    self.previous = previous
    self.changes = changes
    scratch = .allocate(capacity: capacity * scratchSize)
    scratch.initialize(repeating: 0)
    columns = .allocate(capacity: max(columnsSize, 1))
    columns.initialize(repeating: 0)
    image = .allocate(capacity: encoding == .analog ? 1 : capacity * inputSize)
    image.initialize(repeating: 0)
    populations = [Population<Float>?](repeating: nil, count: graph.nodes.count)
  }

  deinit {
    for buffer in buffers { buffer.deallocate() }
    for buffer in previous.values { buffer.deallocate() }
    for buffer in changes.values { buffer.deallocate() }
    scratch.deallocate()
    columns.deallocate()
    image.deallocate()
  }

  /// The current estimate of node `name` for the loaded images.
  func estimate(_ name: String) -> UnsafeBufferPointer<Float> {
    let position = nodeIndex[name]!
    return UnsafeBufferPointer(rebasing: buffers[storage[position]][0..<(images * sizes[position])])
  }

  /// Starts a batch: `input` is the adapted image batch, `ann` the ANN's activations for it.
  func load(input: Tensor<Float>, ann: [String: Tensor<Float>]) {
    images = input.shape[0]
    precondition(images <= capacity, "batch of \(images) > capacity \(capacity)")
    for (position, node) in graph.nodes.enumerated() {
      let count = images * sizes[position]
      let buffer = buffers[storage[position]]
      if case .input = node.op, encoding != .analog {
        input.scalars.withUnsafeBufferPointer { _ = image.update(fromContentsOf: $0) }
        let dynamics: Dynamics = encoding == .rate ? .subgradient : .signGD
        populations[position] = Population(
          dynamics: dynamics, target: .unary(.identity), scale: inputScale, count: count)
        buffer.update(repeating: 0)
      } else if let spec = specs[position] {
        populations[position] = Population(
          dynamics: spec.dynamics, schedule: spec.schedule, target: spec.target,
          scales: spec.scales.map(Float.init), count: count)
        buffer.update(repeating: 0)
      } else if isConstant[position] && !isAlias[position] {
        ann[node.name]!.scalars.withUnsafeBufferPointer { _ = buffer.update(fromContentsOf: $0) }
      }
    }
    // Affine nodes start at their map of the initial estimates.
    for (position, node) in graph.nodes.enumerated()
    where !isConstant[position] && !isAlias[position] && populations[position] == nil {
      applyAffine(node, at: position, accumulateChanges: false)
    }
    for (buffer, copy) in previous {
      _ = copy.update(fromContentsOf: buffers[buffer])
      changes[buffer]!.update(repeating: 0)
    }
  }

  /// Advances every node by one time step, in topological order.
  func step() {
    for (position, node) in graph.nodes.enumerated() where !isConstant[position] && !isAlias[position] {
      let output = UnsafeMutableBufferPointer(
        rebasing: buffers[storage[position]][0..<(images * sizes[position])])
      if populations[position] != nil {
        advancePopulation(node, at: position, output: output)
      } else {
        applyAffine(node, at: position, accumulateChanges: engine == .event)
      }
      let buffer = storage[position]
      if let last = previous[buffer], let change = changes[buffer] {
        for i in 0..<output.count {
          change[i] = output[i] - last[i]
          last[i] = output[i]
        }
      }
    }
  }

  /// Input `k` of the node at `position`: its current estimate, or (`changes`) its change in
  /// this step.
  private func input(_ position: Int, _ k: Int, changes useChanges: Bool = false) -> UnsafeBufferPointer<
    Float
  > {
    let source = inputPositions[position][k]
    let buffer = useChanges ? changes[storage[source]]! : buffers[storage[source]]
    return UnsafeBufferPointer(rebasing: buffer[0..<(images * sizes[source])])
  }

  private func advancePopulation(_ node: Node, at position: Int, output: UnsafeMutableBufferPointer<Float>) {
    let count = output.count
    let drive = UnsafeMutableBufferPointer(rebasing: scratch[0..<count])
    switch node.op {
    case .input:
      populations[position]!.advance(first: UnsafeBufferPointer(rebasing: image[0..<count]), output: output)
    case .activation:
      populations[position]!.advance(first: input(position, 0), output: output)
    case .binary:
      populations[position]!.advance(first: input(position, 0), second: input(position, 1), output: output)
    case .pool2d(let a):
      Tensor.pool2d(
        input(position, 0), images: images, channels: node.shape.last!, window: windows[position]!,
        mode: a.mode,
        into: drive)
      populations[position]!.advance(first: UnsafeBufferPointer(drive), output: output)
    case .layerNorm(let epsilon, _, _):
      withOptionalBuffer(node.parameters["gamma"]?.scalars) { gamma in
        withOptionalBuffer(node.parameters["beta"]?.scalars) { beta in
          Tensor.layerNorm(
            input(position, 0), count: count, width: node.shape.last!, epsilon: Float(epsilon), gamma: gamma,
            beta: beta, into: drive)
        }
      }
      populations[position]!.advance(first: UnsafeBufferPointer(drive), output: output)
    case .softmax:
      Tensor.softmax(input(position, 0), count: count, width: node.shape.last!, into: drive)
      populations[position]!.advance(first: UnsafeBufferPointer(drive), output: output)
    default:
      preconditionFailure("no population form for \(node.op.kind)")
    }
  }

  /// Recomputes an affine node from its inputs' estimates, or (`accumulateChanges`) adds its
  /// linear part applied to its inputs' changes of this step.
  private func applyAffine(_ node: Node, at position: Int, accumulateChanges: Bool) {
    let count = images * sizes[position]
    let output = UnsafeMutableBufferPointer(rebasing: buffers[storage[position]][0..<count])
    let x = input(position, 0, changes: accumulateChanges)
    let channels = node.shape.last ?? 1
    // Ops whose kernels accumulate (GEMM with β = 1) write to `output` directly; the others
    // write to `target` and are added afterwards.
    let target = accumulateChanges ? UnsafeMutableBufferPointer(rebasing: scratch[0..<count]) : output
    var addTarget = accumulateChanges
    switch node.op {
    case .dense(let units, _):
      let width = inputShapes[position].last!
      let bias = accumulateChanges ? nil : node.parameters["bias"]
      if let bias { bias.scalars.withUnsafeBufferPointer { Tensor.fillRows(output, count: count, with: $0) } }
      node.parameters["kernel"]!.scalars.withUnsafeBufferPointer { w in
        Tensor.dense(
          x, rows: count / units, weight: w, inputWidth: width, outputWidth: units, into: output,
          beta: accumulateChanges || bias != nil ? 1 : 0)
      }
      addTarget = false
    case .conv2d(let a):
      let bias = accumulateChanges ? nil : node.parameters["bias"]
      if let bias { bias.scalars.withUnsafeBufferPointer { Tensor.fillRows(output, count: count, with: $0) } }
      node.parameters["kernel"]!.scalars.withUnsafeBufferPointer { k in
        Tensor.conv2d(
          x, images: images, channels: inputShapes[position].last!, window: windows[position]!, kernel: k,
          outChannels: a.filters, columns: columns, into: output,
          beta: accumulateChanges || bias != nil ? 1 : 0)
      }
      addTarget = false
    case .pool2d(let a):
      Tensor.pool2d(
        x, images: images, channels: channels, window: windows[position]!, mode: a.mode, into: target)
    case .windowElement(_, let row, let column):
      Tensor.windowElement(
        x, images: images, channels: channels, window: windows[position]!, row: row, column: column,
        into: target)
    case .globalAveragePool2d:
      let shape = inputShapes[position]
      Tensor.globalAveragePool2d(
        x, images: images, positions: shape[0] * shape[1], channels: channels, into: target)
    case .lastAxis(let statistic):
      Tensor.lastAxisStatistic(x, count: count, width: channels, statistic: statistic, into: target)
    case .batchNorm, .scaleShift:
      let affine = channelAffine[position]!
      affine.scale.withUnsafeBufferPointer { scale in
        withOptionalBuffer(accumulateChanges ? nil : affine.shift) { shift in
          Tensor.affinePerChannel(x, count: count, scale: scale, shift: shift, into: target)
        }
      }
    case .add, .binary(.add):
      _ = target.update(fromContentsOf: x)
      for k in 1..<inputPositions[position].count {
        let other = input(position, k, changes: accumulateChanges)
        for i in 0..<count { target[i] += other[i] }
      }
    case .binary(.subtract):
      let other = input(position, 1, changes: accumulateChanges)
      for i in 0..<count { target[i] = x[i] - other[i] }
    case .concatenate(let given):
      let shape = node.shape
      let axis = given < 0 ? given + shape.count : given
      let inner = shape[(axis + 1)...].reduce(1, *)
      let outer = images * shape[..<axis].reduce(1, *)
      var offset = 0
      for o in 0..<outer {
        for (k, source) in inputPositions[position].enumerated() {
          let block = graph.nodes[source].shape[axis] * inner
          let part = input(position, k, changes: accumulateChanges)
          UnsafeMutableBufferPointer(rebasing: target[offset..<(offset + block)]).update(
            fromContentsOf: UnsafeBufferPointer(rebasing: part[(o * block)..<((o + 1) * block)]))
          offset += block
        }
      }
    default:
      preconditionFailure("\(node.op.kind) is not simulated as an affine map")
    }
    if addTarget { for i in 0..<count { output[i] += target[i] } }
  }
}

extension Op {
  /// Whether the op's output is its input's values unchanged (only the shape differs), so a
  /// simulator can share the buffer.
  var sharesInputBuffer: Bool {
    switch self {
    case .flatten, .reshape, .dropout: return true
    case .activation(let function): return function == .identity
    default: return false
    }
  }
}
