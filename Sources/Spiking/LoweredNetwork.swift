import Graph
import Tensor

/// A spiking network lowered for time-stepped simulation of batches of at most `capacity`
/// images: one buffer per node output, allocated once, and one ``LoweredNode`` per graph node
/// with its inputs, parameters and sliding windows resolved, so that a time step looks nothing
/// up and allocates nothing.
///
/// Flatten, Reshape, Dropout and identity activations share their input's buffer.
///
/// Under ``AffineUpdate/event`` an affine node fed by spikes follows them: an integrate-and-fire
/// population's estimate moves as `λv_t = (1 − η_t)·λv_{t−1} + η_t·λs_t`, so an affine map `A`
/// of it (or of a bias-free linear map of it, such as pooling) moves as
/// `A_t = (1 − η_t)·A_{t−1} + η_t·b + L(η_t·λs_t)`, and `L` of the step's spikes costs in
/// proportion to the spikes (``Tensor/denseAddingNonzeros(_:rows:weight:inputWidth:outputWidth:into:)``).
/// Every other affine node reads a copy of its inputs' previous values and the change since,
/// and pushes the change through its linear part.
final class LoweredNetwork {
  let capacity: Int
  let update: AffineUpdate
  /// One per graph node, in graph order.
  let nodes: [LoweredNode]
  /// The population state of every node that has one (the encoder, populations), by position.
  private(set) var populations: [Population<Float>?]
  /// The images loaded by the last ``load(input:chunkRows:ann:)``.
  private(set) var images = 0
  /// Spikes each population emitted in the last step, by position.
  private var fired: [Int]

  private let buffers: [UnsafeMutableBufferPointer<Float>]
  /// Event update: previous value and last change of the buffers that affine nodes not fed by
  /// spikes read, by buffer.
  private let previous: [UnsafeMutableBufferPointer<Float>?]
  private let changes: [UnsafeMutableBufferPointer<Float>?]
  /// Event update: how each affine node fed by spikes follows them, by position.
  private let spikeDrives: [SpikeDrive?]
  /// Whether anything reads the node's estimate, by position (under the event update, a map
  /// that only GEMM maps following its spikes read is never computed itself).
  private let readsEstimate: [Bool]
  /// Event update, by position: `η_t·λs_t` of an integrate-and-fire population whose spikes an
  /// affine node reads, or the linear part of a bias-free map of such spikes that another reads.
  private let spikeSources: [UnsafeMutableBufferPointer<Float>?]
  /// Scratch: a fused population's drive or an affine map of changes; im2col columns; the raw
  /// image under spike encoding.
  private let scratch: UnsafeMutableBufferPointer<Float>
  /// The targets of the population being stepped, shared by all populations.
  private let workspace: UnsafeMutableBufferPointer<Float>
  private let columns: UnsafeMutableBufferPointer<Float>
  private let image: UnsafeMutableBufferPointer<Float>
  private let encoderDynamics: Dynamics
  /// λ of a spike-encoding input population: the largest input magnitude.
  private let inputScale: Float
  /// See ``defaultSparseDensityLimit``.
  private let sparseDensityLimit: Double
  /// Where the buffer holds what one step sends rather than an estimate — membrane populations
  /// (and a membrane encoder) send spikes, the readout of such a network its input current of
  /// the step — the running sum over the steps, by position; ``estimate(at:)`` is its mean.
  private let sums: [UnsafeMutableBufferPointer<Float>?]
  /// Where ``estimate(at:)`` puts the mean of a summed node.
  private let means: [UnsafeMutableBufferPointer<Float>?]
  /// Steps taken since the last ``load(input:chunkRows:ann:)``.
  private(set) var stepsTaken = 0
  /// Where ``step()`` writes the spikes `s_t` (1, −1 for a negative spike, or 0 per neuron) of
  /// the populations ``recordSpikes(at:)`` named, by position; nil elsewhere.
  private var spikeRecords: [UnsafeMutableBufferPointer<Float>?] = []
  /// When set, called at every step of every population with its position and drive — the
  /// values its neurons read in that step (and a two-input target's second operand) — just
  /// before the population advances on them (``DriveRecording``).
  var driveObserver:
    ((_ position: Int, _ first: UnsafeBufferPointer<Float>, _ second: UnsafeBufferPointer<Float>?) -> Void)?
  /// Populations whose output at each step is read from a recording instead of computed by their
  /// neurons, by position: what the population sent at step `t` (from 1) for the loaded images
  /// (``replay(_:)``).
  private var replayed: [((Int) -> UnsafeBufferPointer<Float>)?]
  /// Nodes nothing simulated reads once populations are replayed: only the replayed populations
  /// read them (``replay(_:)``); false everywhere otherwise.
  private var skipped: [Bool]
  /// The position of the readout.
  private let readoutPosition: Int

  /// How the input population of a spike encoding runs: under rate coding an integrate-and-fire
  /// neuron — membrane neurons that send spikes when the network's populations do — and signGD
  /// otherwise.
  static func encoderDynamics(_ encoding: InputEncoding, network: SpikingNetwork) -> Dynamics {
    guard encoding == .rate else { return .signGD }
    return network.populations.contains { $0.dynamics.sendsSpikes } ? .integrateAndFire : .subgradient
  }

  init(
    _ network: SpikingNetwork, capacity: Int, update: AffineUpdate, encoding: InputEncoding,
    inputScale: Float,
    sparseDensityLimit: Double = LoweredNetwork.defaultSparseDensityLimit
  ) {
    self.sparseDensityLimit = sparseDensityLimit
    let graph = network.graph
    self.capacity = capacity
    self.update = update
    self.inputScale = inputScale > 0 && inputScale.isFinite ? inputScale : 1
    encoderDynamics = Self.encoderDynamics(encoding, network: network)
    let index = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    let specs = Dictionary(uniqueKeysWithValues: network.populations.map { ($0.node, $0) })
    // First the kind of every node, then buffers: a node's buffer may be shared with others.
    var kinds = [LoweredNode.Kind]()
    var inputLists = [[Int]]()
    var sizes = [Int]()
    var columnsSize = 0
    var inputSize = 1
    func isConstant(_ position: Int) -> Bool { LoweredNode.isConstant(kinds[position]) }
    for node in graph.nodes {
      let inputs = node.inputs.map { index[$0]! }
      let inputShape = node.inputs.first.map { graph.nodes[index[$0]!].shape } ?? []
      let size = node.shape.reduce(1, *)
      let kind: LoweredNode.Kind
      if case .input = node.op {
        inputSize = size
        kind = encoding == .analog ? .constant : .encoder
      } else if let spec = specs[node.name] {
        kind = .population(spec, LoweredNode.drive(of: node, inputs: inputs, inputShape: inputShape))
      } else if node.op.sharesInputBuffer {
        kind = .alias(isConstant(inputs[0]))
      } else if inputs.allSatisfy(isConstant) {
        kind = .constant
      } else if let map = LoweredNode.affineMap(
        of: node, inputs: inputs, inputShape: inputShape,
        inputShapes: node.inputs.map { graph.node($0)!.shape })
      {
        kind = .affine(map)
        if case .conv2d(let conv) = map {
          columnsSize = max(
            columnsSize,
            Tensor<Float>.conv2dColumnsCapacity(
              images: capacity, channels: conv.channels, window: conv.window))
        }
      } else {
        // A non-affine node without a population is the final softmax, which the readout
        // skips: it is never simulated.
        kind = .constant
      }
      kinds.append(kind)
      inputLists.append(inputs)
      sizes.append(size)
    }
    // Under the event update, which affine nodes follow spikes: those with one input that is an
    // integrate-and-fire population (through aliases) or a bias-free map that follows spikes.
    var origins = [SpikeDrive?](repeating: nil, count: kinds.count)
    var spikeDrives = origins
    if update == .event {
      for position in kinds.indices {
        switch kinds[position] {
        case .population(let spec, _) where spec.dynamics.estimateFollowsSpikes:
          origins[position] = SpikeDrive(root: position, source: position)
        case .encoder where encoding == .rate:
          origins[position] = SpikeDrive(root: position, source: position)
        case .alias:
          origins[position] = origins[inputLists[position][0]]
        case .affine(let map) where inputLists[position].count == 1:
          guard let origin = origins[inputLists[position][0]] else { break }
          spikeDrives[position] = origin
          if map.passesSpikesOn { origins[position] = SpikeDrive(root: origin.root, source: position) }
        case .population, .encoder, .affine, .constant: break
        }
      }
    }
    let sourcePositions = Set(spikeDrives.compactMap { $0?.source })
    // A bias-free map that passes spikes on needs its own estimate only if something reads that
    // rather than its spike source: the readout, a population, or a map that is not a GEMM.
    var readsEstimate = [Bool](repeating: false, count: kinds.count)
    for position in kinds.indices.reversed() {
      var reads = false
      switch kinds[position] {
      case .alias: reads = readsEstimate[position] || position == index[network.readout]!
      case .affine(let map): reads = spikeDrives[position] == nil || map.fanOut == 0
      case .population, .encoder, .constant: reads = true
      }
      if reads { for input in inputLists[position] { readsEstimate[input] = true } }
    }
    readsEstimate[index[network.readout]!] = true
    // Under the dense update an affine node's output is recomputed before anything reads it in
    // a step and is not needed after its last reader, so affine nodes whose lifetimes within a
    // step do not overlap share buffers. The readout is read after the step, and everything else
    // (populations, constants, event-updated maps) keeps its own buffer.
    var lastRead = Array(0..<kinds.count)
    for (position, inputs) in inputLists.enumerated() {
      for input in inputs { lastRead[input] = max(lastRead[input], position) }
    }
    for position in kinds.indices.reversed() {
      if case .alias = kinds[position] {
        lastRead[inputLists[position][0]] = max(lastRead[inputLists[position][0]], lastRead[position])
      }
    }
    var readoutPosition = index[network.readout]!
    while case .alias = kinds[readoutPosition] { readoutPosition = inputLists[readoutPosition][0] }
    var bufferOf = [Int]()
    var bufferSizes = [Int]()
    var pool = [(buffer: Int, freeAfter: Int)]()
    for position in kinds.indices {
      switch kinds[position] {
      case .alias:
        bufferOf.append(bufferOf[inputLists[position][0]])
      case .affine where update == .dense && position != readoutPosition:
        let free = pool.indices.filter { pool[$0].freeAfter < position }
        let fitting = free.filter { bufferSizes[pool[$0].buffer] >= sizes[position] }
        if let slot = fitting.min(by: { bufferSizes[pool[$0].buffer] < bufferSizes[pool[$1].buffer] })
          ?? free.max(by: { bufferSizes[pool[$0].buffer] < bufferSizes[pool[$1].buffer] })
        {
          let buffer = pool[slot].buffer
          bufferSizes[buffer] = max(bufferSizes[buffer], sizes[position])
          pool[slot].freeAfter = lastRead[position]
          bufferOf.append(buffer)
        } else {
          pool.append((bufferSizes.count, lastRead[position]))
          bufferOf.append(bufferSizes.count)
          bufferSizes.append(sizes[position])
        }
      case .affine, .population, .encoder, .constant:
        bufferOf.append(bufferSizes.count)
        bufferSizes.append(sizes[position])
      }
    }
    let buffers = bufferSizes.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity * $0) }
    let nodes = graph.nodes.indices.map { position in
      LoweredNode(
        name: graph.nodes[position].name, size: sizes[position], buffer: bufferOf[position],
        inputs: inputLists[position], kind: kinds[position])
    }
    // Scratch holds the drive a population computes before its update (pooling, LayerNorm,
    // softmax) and, under the event update, the change of a map that is not a GEMM; the
    // workspace holds the goals of targets the update loop does not compute itself. Each is
    // as large as the largest node that uses it (often none: every population of a decomposed
    // ReLU CNN is fused with its target).
    var scratchSize = 0
    var workspaceSize = 0
    for (position, (kind, size)) in zip(kinds, sizes).enumerated() {
      switch kind {
      case .population(let spec, let drive):
        if Population<Float>.evaluatesTargetSeparately(spec.target, spikes: false) {
          workspaceSize = max(workspaceSize, size)
        }
        switch drive {
        case .one, .two: break
        case .pool, .layerNorm, .softmax: scratchSize = max(scratchSize, size)
        }
      case .affine(let map) where update == .event && spikeDrives[position] == nil:
        // (An affine node following spikes needs no scratch.)
        if !map.isGEMM { scratchSize = max(scratchSize, size) }
      case .affine, .encoder, .alias, .constant: break
      }
    }
    for buffer in buffers { buffer.initialize(repeating: 0) }
    var previous = [UnsafeMutableBufferPointer<Float>?](repeating: nil, count: buffers.count)
    var changes = previous
    if update == .event {
      for (position, node) in nodes.enumerated() where spikeDrives[position] == nil {
        guard case .affine = node.kind else { continue }
        for input in node.inputs where previous[nodes[input].buffer] == nil {
          let count = capacity * nodes[input].size
          previous[nodes[input].buffer] = .allocate(capacity: count)
          previous[nodes[input].buffer]!.initialize(repeating: 0)
          changes[nodes[input].buffer] = .allocate(capacity: count)
          changes[nodes[input].buffer]!.initialize(repeating: 0)
        }
      }
    }
    self.nodes = nodes
    self.buffers = buffers
    self.previous = previous
    self.changes = changes
    self.spikeDrives = spikeDrives
    self.readsEstimate = readsEstimate
    spikeSources = sizes.indices.map { position in
      guard sourcePositions.contains(position) else { return nil }
      let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity * sizes[position])
      buffer.initialize(repeating: 0)
      return buffer
    }
    scratch = .allocate(capacity: capacity * scratchSize)
    scratch.initialize(repeating: 0)
    workspace = .allocate(capacity: capacity * workspaceSize)
    workspace.initialize(repeating: 0)
    columns = .allocate(capacity: max(columnsSize, 1))
    columns.initialize(repeating: 0)
    image = .allocate(capacity: encoding == .analog ? 1 : capacity * inputSize)
    image.initialize(repeating: 0)
    populations = [Population<Float>?](repeating: nil, count: nodes.count)
    fired = [Int](repeating: 0, count: nodes.count)
    let encoderSendsSpikes = Self.encoderDynamics(encoding, network: network).sendsSpikes
    let summed = kinds.indices.map { position -> Bool in
      switch kinds[position] {
      case .population(let spec, _): return spec.dynamics.sendsSpikes
      case .encoder: return encoderSendsSpikes
      case .constant, .alias, .affine:
        return position == index[network.readout]! && network.populations.contains { $0.dynamics.sendsSpikes }
      }
    }
    func allocate(_ wanted: Bool, _ size: Int) -> UnsafeMutableBufferPointer<Float>? {
      guard wanted else { return nil }
      let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity * size)
      buffer.initialize(repeating: 0)
      return buffer
    }
    sums = zip(summed, sizes).map(allocate)
    means = zip(summed, sizes).map(allocate)
    spikeRecords = sizes.map { _ in nil }
    skipped = [Bool](repeating: false, count: nodes.count)
    replayed = [((Int) -> UnsafeBufferPointer<Float>)?](repeating: nil, count: nodes.count)
    self.readoutPosition = index[network.readout]!
  }

  /// From the next ``load(input:chunkRows:ann:)`` on, the populations at the keys of `sources`
  /// send, at step `t`, what `sources[position](t)` holds (images × neurons of the loaded
  /// batch, as recorded by ``DriveRecording/keepOutputs(of:)``) instead of running their
  /// neurons, and every node that only they depend on is no longer simulated. The recorded
  /// outputs must be the population's own (same spec, same images, same steps) for the
  /// simulation to be the one without the replay, bit for bit. Dense update only: under the event
  /// update a node's state depends on every step of its inputs.
  func replay(_ sources: [Int: (Int) -> UnsafeBufferPointer<Float>]) {
    precondition(update == .dense || sources.isEmpty, "replaying populations needs the dense update")
    for position in sources.keys {
      guard case .population = nodes[position].kind else {
        preconditionFailure("only populations are replayed")
      }
    }
    replayed = nodes.indices.map { sources[$0] }
    // What the readout needs, walking back through inputs and stopping at replayed populations.
    var needed = [Bool](repeating: false, count: nodes.count)
    needed[readoutPosition] = true
    for position in nodes.indices.reversed() where needed[position] && sources[position] == nil {
      for input in nodes[position].inputs { needed[input] = true }
    }
    skipped = needed.map { !$0 }
  }

  /// From the next step on, keeps each step's spikes of the populations (or the encoder) at
  /// `positions` for ``recordedSpikes(at:)``.
  func recordSpikes(at positions: Set<Int>) {
    for position in positions.sorted() where spikeRecords[position] == nil {
      let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity * nodes[position].size)
      buffer.initialize(repeating: 0)
      spikeRecords[position] = buffer
    }
  }

  /// The last step's spikes of a population ``recordSpikes(at:)`` named, for the loaded images.
  func recordedSpikes(at position: Int) -> UnsafeBufferPointer<Float>? {
    spikeRecords[position].map { UnsafeBufferPointer(rebasing: $0[0..<(images * nodes[position].size)]) }
  }

  /// The spike outputs of a population's step: the `η_t·λs_t` that affine nodes read, or where
  /// its spikes are recorded and no affine node reads them, the record itself (then the
  /// population evaluates its target in its own workspace, as the shared one is sized for the
  /// steps without spike output).
  private func spikeOutputs(_ position: Int) -> (
    spikes: UnsafeMutableBufferPointer<Float>?, weighted: UnsafeMutableBufferPointer<Float>?,
    workspace: UnsafeMutableBufferPointer<Float>?
  ) {
    let weighted = spikeSource(position)
    guard weighted == nil, let record = spikeRecords[position] else { return (nil, weighted, workspace) }
    return (UnsafeMutableBufferPointer(rebasing: record[0..<(images * nodes[position].size)]), nil, nil)
  }

  /// After a recorded population's step whose spikes went out weighted: their signs into the record.
  private func recordWeightedSpikes(_ position: Int) {
    guard let record = spikeRecords[position], let weighted = spikeSource(position) else { return }
    for i in weighted.indices { record[i] = weighted[i] > 0 ? 1 : weighted[i] < 0 ? -1 : 0 }
  }

  deinit {
    for buffer in buffers { buffer.deallocate() }
    for buffer in previous { buffer?.deallocate() }
    for buffer in changes { buffer?.deallocate() }
    for buffer in spikeSources { buffer?.deallocate() }
    for buffer in sums { buffer?.deallocate() }
    for buffer in means { buffer?.deallocate() }
    for buffer in spikeRecords { buffer?.deallocate() }
    scratch.deallocate()
    workspace.deallocate()
    columns.deallocate()
    image.deallocate()
  }

  /// The nodes whose ANN activations ``load(input:chunkRows:ann:)`` copies.
  var constantNodes: [String] {
    nodes.filter { if case .constant = $0.kind { true } else { false } }.map(\.name)
  }

  /// The current estimate of the node at `position` for the loaded images: its value, or for a
  /// node whose value is one step's spikes or current, their mean over the steps so far.
  func estimate(at position: Int) -> UnsafeBufferPointer<Float> {
    let node = nodes[position]
    let count = images * node.size
    guard let sum = sums[position], let mean = means[position] else {
      return UnsafeBufferPointer(rebasing: buffers[node.buffer][0..<count])
    }
    let scale = 1 / Float(max(stepsTaken, 1))
    for i in 0..<count { mean[i] = sum[i] * scale }
    return UnsafeBufferPointer(rebasing: mean[0..<count])
  }

  /// What the node at `position` has sent over all steps so far — spikes times λ, or the
  /// readout's input current — summed; nil for a node that holds an estimate.
  func accumulated(at position: Int) -> UnsafeBufferPointer<Float>? {
    sums[position].map { UnsafeBufferPointer(rebasing: $0[0..<(images * nodes[position].size)]) }
  }

  /// Starts a batch: `input` is the adapted image batch. The ANN's activations of the
  /// ``constantNodes`` are asked for by consecutive ranges of `chunkRows` images covering the
  /// batch, so that the caller never needs them for the whole batch at once.
  func load(input: Tensor<Float>, chunkRows: Int, ann: (Range<Int>) -> [String: Tensor<Float>]) {
    images = input.shape[0]
    precondition(images <= capacity, "batch of \(images) > capacity \(capacity)")
    for first in stride(from: 0, to: images, by: chunkRows) {
      let rows = first..<min(first + chunkRows, images)
      let values = ann(rows)
      for node in nodes {
        guard case .constant = node.kind else { continue }
        let value = values[node.name]!
        let target = UnsafeMutableBufferPointer(
          rebasing: buffers[node.buffer][(rows.lowerBound * node.size)..<(rows.upperBound * node.size)])
        value.scalars.withUnsafeBufferPointer { _ = target.update(fromContentsOf: $0) }
      }
    }
    for (position, node) in nodes.enumerated() where !skipped[position] {
      let count = images * node.size
      let buffer = buffers[node.buffer]
      switch node.kind {
      case .encoder:
        input.scalars.withUnsafeBufferPointer { _ = image.update(fromContentsOf: $0) }
        populations[position] = Population(
          dynamics: encoderDynamics, target: .unary(.identity), scale: inputScale, count: count)
        buffer.update(repeating: 0)
      case .population(let spec, _):
        let population = Population<Float>(spec, count: count)
        buffer.update(repeating: 0)
        population.publishInitial(into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
        populations[position] = population
      case .constant, .alias, .affine:
        break
      }
    }
    // Affine nodes start at their map of the initial estimates.
    for (position, node) in nodes.enumerated() where !skipped[position] {
      if case .affine(let map) = node.kind { apply(map, of: node, changesOnly: false) }
    }
    for (buffer, copy) in previous.enumerated() {
      guard let copy else { continue }
      _ = copy.update(fromContentsOf: buffers[buffer])
      changes[buffer]!.update(repeating: 0)
    }
    for sum in sums { sum?.update(repeating: 0) }
    stepsTaken = 0
  }

  /// Advances every node by one time step, in topological order.
  func step() {
    for (position, node) in nodes.enumerated() where !skipped[position] {
      switch node.kind {
      case .constant, .alias: continue
      case .encoder:
        let before = populations[position]!.spikeCount
        let (spikes, weighted, workspace) = spikeOutputs(position)
        populations[position]!.advance(
          first: UnsafeBufferPointer(rebasing: image[0..<(images * node.size)]), output: output(of: node),
          spikes: spikes, weightedSpikes: weighted, workspace: workspace)
        fired[position] = populations[position]!.spikeCount &- before
        recordWeightedSpikes(position)
      case .population where replayed[position] != nil:
        _ = output(of: node).update(fromContentsOf: replayed[position]!(stepsTaken + 1))
        fired[position] = 0
      case .population(_, let drive):
        let before = populations[position]!.spikeCount
        advance(position, drive, output: output(of: node))
        fired[position] = populations[position]!.spikeCount &- before
        recordWeightedSpikes(position)
      case .affine(let map):
        if let drive = spikeDrives[position] {
          follow(map, of: node, at: position, drive)
        } else {
          apply(map, of: node, changesOnly: update == .event)
        }
      }
      if let last = previous[node.buffer], let change = changes[node.buffer] {
        let output = output(of: node)
        for i in 0..<output.count {
          change[i] = output[i] - last[i]
          last[i] = output[i]
        }
      }
    }
    for (position, sum) in sums.enumerated() {
      guard let sum, !skipped[position] else { continue }
      let output = output(of: nodes[position])
      for i in 0..<output.count { sum[i] += output[i] }
    }
    stepsTaken += 1
  }

  /// The spike buffer of the node at `position` for the loaded images, if an affine node reads
  /// its spikes.
  private func spikeSource(_ position: Int) -> UnsafeMutableBufferPointer<Float>? {
    spikeSources[position].map {
      UnsafeMutableBufferPointer(rebasing: $0[0..<(images * nodes[position].size)])
    }
  }

  /// `A ← (1 − η)·A + η·b` with `b` repeated along the innermost axis (`A ← (1 − η)·A` without
  /// a bias), in place, as loops LLVM vectorizes (raw pointers, plain `while`).
  private static func decay(
    _ values: UnsafeMutableBufferPointer<Float>, eta: Float, towards bias: UnsafeBufferPointer<Float>?
  ) {
    guard let v = values.baseAddress else { return }
    let keep = 1 - eta
    guard let bias, let b = bias.baseAddress else {
      var i = 0
      while i < values.count {
        v[i] *= keep
        i &+= 1
      }
      return
    }
    var base = 0
    while base < values.count {
      var j = 0
      while j < bias.count {
        v[base &+ j] = keep * v[base &+ j] + eta * b[j]
        j &+= 1
      }
      base &+= bias.count
    }
  }

  /// Moves an affine node fed by spikes one step: `A_t = (1 − η_t)·A_{t−1} + η_t·b + L(S_t)`
  /// with `S_t` the spike source's `η_t·λs_t` (or a bias-free map of it). `L(S_t)` visits only
  /// the nonzero entries of `S_t` where they are few enough, and is a GEMM otherwise.
  private func follow(
    _ map: LoweredNode.AffineMap, of node: LoweredNode, at position: Int, _ drive: SpikeDrive
  ) {
    let source = UnsafeBufferPointer(spikeSource(drive.source)!)
    guard map.fanOut > 0 else {
      // A cheap map is recomputed from its input's estimate, as under the dense update (one
      // pass), where anything reads it, and keeps the linear part of its input's spike source
      // for the nodes that read that.
      if readsEstimate[position] { apply(map, of: node, changesOnly: false) }
      if let kept = spikeSource(position) {
        apply(map, of: node, to: { _ in source }, linear: true, into: kept)
      }
      return
    }
    let root = populations[drive.root]!
    let eta = Float(root.schedule.eta(root.step))
    let output = self.output(of: node)
    withOptionalBuffer(map.bias) { Self.decay(output, eta: eta, towards: $0) }
    var sparse = false
    if map.fanOut >= Self.sparseFanOutMinimum {
      let nonzeros = drive.source == drive.root ? fired[drive.root] : Tensor<Float>.nonzeroCount(source)
      sparse = nonzeros <= Int(sparseDensityLimit * Double(source.count))
    }
    switch map {
    case .dense(let kernel, _, let inputWidth, let units):
      kernel.withUnsafeBufferPointer { w in
        if sparse {
          Tensor.denseAddingNonzeros(
            source, rows: output.count / units, weight: w, inputWidth: inputWidth, outputWidth: units,
            into: output)
        } else {
          Tensor.dense(
            source, rows: output.count / units, weight: w, inputWidth: inputWidth, outputWidth: units,
            into: output, beta: 1)
        }
      }
    case .conv2d(let conv):
      conv.kernel.withUnsafeBufferPointer { k in
        if sparse {
          Tensor.conv2dAddingNonzeros(
            source, images: images, channels: conv.channels, window: conv.window, kernel: k,
            outChannels: conv.filters, into: output)
        } else {
          Tensor.conv2d(
            source, images: images, channels: conv.channels, window: conv.window, kernel: k,
            outChannels: conv.filters, columns: columns, into: output, beta: 1)
        }
      }
    case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
      .channelAffine,
      .sum, .difference, .concatenate, .gather:
      preconditionFailure("only GEMM maps accumulate spikes")
    }
  }

  private func output(of node: LoweredNode) -> UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(rebasing: buffers[node.buffer][0..<(images * node.size)])
  }

  /// The current estimate of the node at `position`, or (`changes`) its change in this step.
  private func value(_ position: Int, changes useChanges: Bool = false) -> UnsafeBufferPointer<Float> {
    let node = nodes[position]
    let buffer = useChanges ? changes[node.buffer]! : buffers[node.buffer]
    return UnsafeBufferPointer(rebasing: buffer[0..<(images * node.size)])
  }

  private func advance(_ position: Int, _ drive: LoweredNode.Drive, output: UnsafeMutableBufferPointer<Float>)
  {
    let count = output.count
    let (spikes, weighted, workspace) = spikeOutputs(position)
    var fused: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(rebasing: scratch[0..<count]) }
    let first: UnsafeBufferPointer<Float>
    var second: UnsafeBufferPointer<Float>?
    switch drive {
    case .one(let x):
      first = value(x)
    case .two(let a, let b):
      first = value(a)
      second = value(b)
    case .pool(let x, let window, let mode, let channels):
      Tensor.pool2d(value(x), images: images, channels: channels, window: window, mode: mode, into: fused)
      first = UnsafeBufferPointer(fused)
    case .layerNorm(let x, let epsilon, let gamma, let beta, let width):
      withOptionalBuffer(gamma) { gamma in
        withOptionalBuffer(beta) { beta in
          Tensor.layerNorm(
            value(x), count: count, width: width, epsilon: epsilon, gamma: gamma, beta: beta, into: fused)
        }
      }
      first = UnsafeBufferPointer(fused)
    case .softmax(let x, let width):
      Tensor.softmax(value(x), count: count, width: width, into: fused)
      first = UnsafeBufferPointer(fused)
    }
    driveObserver?(position, first, second)
    populations[position]!.advance(
      first: first, second: second, output: output, spikes: spikes, weightedSpikes: weighted,
      workspace: workspace)
  }

  /// Recomputes an affine node from its inputs' estimates, or (`changesOnly`) adds its linear
  /// part applied to its inputs' changes of this step.
  private func apply(_ map: LoweredNode.AffineMap, of node: LoweredNode, changesOnly: Bool) {
    let output = self.output(of: node)
    // A closure, not an array of buffers: a step allocates nothing.
    let inputs = { (k: Int) in self.value(node.inputs[k], changes: changesOnly) }
    switch map {
    case .dense, .conv2d:
      apply(map, of: node, to: inputs, linear: changesOnly, into: output, adding: changesOnly)
    case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
      .channelAffine,
      .sum, .difference, .concatenate, .gather:
      guard changesOnly else { return apply(map, of: node, to: inputs, linear: false, into: output) }
      let staged = UnsafeMutableBufferPointer(rebasing: scratch[0..<output.count])
      apply(map, of: node, to: inputs, linear: true, into: staged)
      for i in output.indices { output[i] += staged[i] }
    }
  }

  /// Writes the map of its inputs (`inputs(k)` the `k`-th) — with its bias or shift, or
  /// (`linear`) its linear part only — into `target`, or (`adding`, GEMM maps only) adds it.
  private func apply(
    _ map: LoweredNode.AffineMap, of node: LoweredNode, to inputs: (Int) -> UnsafeBufferPointer<Float>,
    linear: Bool, into target: UnsafeMutableBufferPointer<Float>, adding: Bool = false
  ) {
    let count = images * node.size
    switch map {
    case .dense(let kernel, let bias, let inputWidth, let units):
      let bias = linear || adding ? nil : bias
      if let bias { bias.withUnsafeBufferPointer { Tensor.fillRows(target, count: count, with: $0) } }
      kernel.withUnsafeBufferPointer { w in
        Tensor.dense(
          inputs(0), rows: count / units, weight: w, inputWidth: inputWidth, outputWidth: units, into: target,
          beta: adding || bias != nil ? 1 : 0)
      }
      return
    case .conv2d(let conv):
      let bias = linear || adding ? nil : conv.bias
      if let bias { bias.withUnsafeBufferPointer { Tensor.fillRows(target, count: count, with: $0) } }
      conv.kernel.withUnsafeBufferPointer { k in
        Tensor.conv2d(
          inputs(0), images: images, channels: conv.channels, window: conv.window, kernel: k,
          outChannels: conv.filters, columns: columns, into: target, beta: adding || bias != nil ? 1 : 0)
      }
      return
    case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
      .channelAffine,
      .sum, .difference, .concatenate, .gather:
      precondition(!adding, "only GEMM maps accumulate")
    }
    let x = inputs(0)
    switch map {
    case .dense, .conv2d:
      break
    case .depthwise(let conv):
      conv.kernel.withUnsafeBufferPointer { k in
        withOptionalBuffer(linear ? nil : conv.bias) { bias in
          Tensor.depthwiseConv2d(
            x, images: images, channels: conv.channels, multiplier: conv.multiplier, window: conv.window,
            kernel: k,
            bias: bias, into: target)
        }
      }
    case .averagePool(let window, let channels):
      Tensor.pool2d(x, images: images, channels: channels, window: window, mode: .average, into: target)
    case .windowElement(let window, let row, let column, let channels):
      Tensor.windowElement(
        x, images: images, channels: channels, window: window, row: row, column: column, into: target)
    case .globalAveragePool(let positions, let channels):
      Tensor.globalAveragePool2d(x, images: images, positions: positions, channels: channels, into: target)
    case .lastAxis(let statistic, let width):
      Tensor.lastAxisStatistic(x, count: count, width: width, statistic: statistic, into: target)
    case .lastAxisRotation(let shift, let width):
      Tensor.lastAxisRotation(x, count: count, width: width, shift: shift, into: target)
    case .channelAffine(let scale, let shift):
      scale.withUnsafeBufferPointer { scale in
        withOptionalBuffer(linear ? nil : shift) { shift in
          Tensor.affinePerChannel(x, count: count, scale: scale, shift: shift, into: target)
        }
      }
    case .sum:
      _ = target.update(fromContentsOf: x)
      for k in 1..<node.inputs.count {
        let other = inputs(k)
        for i in 0..<count { target[i] += other[i] }
      }
    case .difference:
      let b = inputs(1)
      for i in 0..<count { target[i] = x[i] - b[i] }
    case .gather(let indices, let inputSize):
      indices.withUnsafeBufferPointer {
        Tensor.gather(x, images: images, inputSize: inputSize, indices: $0, into: target)
      }
    case .concatenate(let blocks, let outer):
      var offset = 0
      for o in 0..<(images * outer) {
        for (k, block) in blocks.enumerated() {
          _ = UnsafeMutableBufferPointer(rebasing: target[offset..<(offset + block)]).update(
            fromContentsOf: UnsafeBufferPointer(rebasing: inputs(k)[(o * block)..<((o + 1) * block)]))
          offset += block
        }
      }
    }
  }

  /// The share of nonzero spike-source entries up to which an affine node fed by spikes visits
  /// the nonzero entries rather than running a GEMM over all of them (docs/benchmarks.md).
  static let defaultSparseDensityLimit = 0.05
  /// Maps with fewer outputs per input than this always run their GEMM: a nonzero input then
  /// adds too few weights for the visit to pay (docs/benchmarks.md).
  static let sparseFanOutMinimum = 64
}
