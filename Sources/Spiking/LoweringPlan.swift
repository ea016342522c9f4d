import Graph
import Tensor

/// How ``LoweredNetwork`` lays a network out before it allocates anything: each node's kind,
/// inputs and size; under the event update, which affine nodes follow spikes and whose
/// estimates anything reads; which buffer each node writes; and how large the shared scratch
/// must be. Every array is indexed by the node's position in the graph.
struct LoweringPlan {
  let nodes: [LoweredNode]
  /// The position of the readout.
  let readout: Int
  /// Event update: how each affine node fed by spikes follows them.
  let spikeDrives: [SpikeDrive?]
  /// Event update: the nodes whose spike source (``Stage/spikeSource``) an affine node reads.
  let spikeSources: Set<Int>
  let readsEstimate: [Bool]
  /// Event update: the buffers an affine node not fed by spikes reads, whose previous values
  /// and changes are kept.
  let trackedBuffers: Set<Int>
  /// Values per sample of each buffer.
  let bufferSizes: [Int]
  /// Per sample: the scratch (a fused population's drive, an affine map of changes), the
  /// workspace (targets the update loop does not compute itself), the raw image under spike
  /// encoding; im2col columns for the whole batch.
  let scratchSize: Int
  let workspaceSize: Int
  let inputSize: Int
  let columnsSize: Int
  /// Per node: whether its output is summed over the steps (it sends spikes, or it is the
  /// readout of a network whose populations do).
  let summed: [Bool]
  /// The nodes a recurrent edge of a NIR graph reads in the next step: their buffers are their
  /// own, and a batch starts them at 0 (none in a converted network).
  let delayed: Set<Int>

  init(_ network: SpikingNetwork, capacity: Int, update: AffineUpdate, encoding: InputEncoding) {
    let graph = network.graph
    let index = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    let (kinds, columnsSize) = Self.kinds(network, index: index, capacity: capacity, encoding: encoding)
    let inputs = graph.nodes.map { $0.inputs.map { index[$0]! } }
    let sizes = graph.nodes.map { $0.shape.reduce(1, *) }
    inputSize =
      graph.nodes.first { if case .input = $0.op { true } else { false } }.map {
        $0.shape.reduce(1, *)
      } ?? 1
    self.columnsSize = columnsSize
    readout = index[network.readout]!
    let owner = Self.owner(of: readout, kinds: kinds, inputs: inputs)
    let spikeDrives =
      update == .event
      ? Self.spikeDrives(kinds, inputs: inputs, encoding: encoding)
      : [SpikeDrive?](repeating: nil, count: kinds.count)
    self.spikeDrives = spikeDrives
    spikeSources = Set(spikeDrives.compactMap { $0?.source })
    readsEstimate = Self.readsEstimate(kinds, inputs: inputs, spikeDrives: spikeDrives, readout: readout)
    let (bufferOf, bufferSizes) = Self.buffers(
      kinds, inputs: inputs, sizes: sizes, update: update, readoutOwner: owner)
    self.bufferSizes = bufferSizes
    nodes = graph.nodes.indices.map { position in
      LoweredNode(
        name: graph.nodes[position].name, size: sizes[position], buffer: bufferOf[position],
        inputs: inputs[position], kind: kinds[position])
    }
    (scratchSize, workspaceSize) = Self.scratch(kinds, sizes: sizes, update: update, spikeDrives: spikeDrives)
    var tracked = Set<Int>()
    if update == .event {
      for (position, node) in nodes.enumerated() where spikeDrives[position] == nil {
        guard case .affine = node.kind else { continue }
        for input in node.inputs { tracked.insert(nodes[input].buffer) }
      }
    }
    trackedBuffers = tracked
    let encoderSendsSpikes = LoweredNetwork.encoderDynamics(encoding, network: network).sendsSpikes
    let networkSendsSpikes = network.populations.contains { $0.dynamics.sendsSpikes }
    let readout = readout
    delayed = []
    summed = kinds.indices.map { position in
      switch kinds[position] {
      case .population(let spec, _): return spec.dynamics.sendsSpikes
      case .encoder: return encoderSendsSpikes
      case .constant, .alias, .affine, .nir: return position == readout && networkSendsSpikes
      }
    }
  }

  /// The node whose buffer `position`'s values are in: itself, or through aliases the node
  /// they alias.
  static func owner(of position: Int, kinds: [LoweredNode.Kind], inputs: [[Int]]) -> Int {
    var owner = position
    while case .alias = kinds[owner] { owner = inputs[owner][0] }
    return owner
  }

  /// The kind of every node, and the im2col columns the largest ordinary convolution needs.
  private static func kinds(
    _ network: SpikingNetwork, index: [String: Int], capacity: Int, encoding: InputEncoding
  ) -> ([LoweredNode.Kind], Int) {
    let graph = network.graph
    let specs = Dictionary(uniqueKeysWithValues: network.populations.map { ($0.node, $0) })
    var kinds = [LoweredNode.Kind]()
    var columnsSize = 0
    func isConstant(_ position: Int) -> Bool { LoweredNode.isConstant(kinds[position]) }
    for node in graph.nodes {
      let inputs = node.inputs.map { index[$0]! }
      let inputShape = node.inputs.first.map { graph.nodes[index[$0]!].shape } ?? []
      if case .input = node.op {
        kinds.append(encoding == .analog ? .constant : .encoder)
      } else if let spec = specs[node.name] {
        kinds.append(.population(spec, LoweredNode.drive(of: node, inputs: inputs, inputShape: inputShape)))
      } else if node.op.sharesInputBuffer {
        kinds.append(.alias(isConstant(inputs[0])))
      } else if inputs.allSatisfy(isConstant) {
        kinds.append(.constant)
      } else if let map = LoweredNode.affineMap(
        of: node, inputs: inputs, inputShape: inputShape,
        inputShapes: node.inputs.map { graph.node($0)!.shape })
      {
        kinds.append(.affine(map))
        if case .conv2d(let conv) = map {
          columnsSize = max(
            columnsSize,
            Tensor<Float>.conv2dColumnsCapacity(
              images: capacity, channels: conv.channels, window: conv.window))
        }
      } else {
        // A non-affine node without a population is the final softmax, which the readout
        // skips: it is never simulated.
        kinds.append(.constant)
      }
    }
    return (kinds, columnsSize)
  }

  /// Under the event update, which affine nodes follow spikes: those with one input that is an
  /// integrate-and-fire population (through aliases) or a bias-free map that follows spikes.
  private static func spikeDrives(
    _ kinds: [LoweredNode.Kind], inputs: [[Int]], encoding: InputEncoding
  ) -> [SpikeDrive?] {
    var origins = [SpikeDrive?](repeating: nil, count: kinds.count)
    var spikeDrives = origins
    for position in kinds.indices {
      switch kinds[position] {
      case .population(let spec, _) where spec.dynamics.estimateFollowsSpikes:
        origins[position] = SpikeDrive(root: position, source: position)
      case .encoder where encoding == .rate:
        origins[position] = SpikeDrive(root: position, source: position)
      case .alias:
        origins[position] = origins[inputs[position][0]]
      case .affine(let map) where inputs[position].count == 1:
        guard let origin = origins[inputs[position][0]] else { break }
        spikeDrives[position] = origin
        if map.passesSpikesOn { origins[position] = SpikeDrive(root: origin.root, source: position) }
      case .population, .encoder, .affine, .constant, .nir: break
      }
    }
    return spikeDrives
  }

  /// A bias-free map that passes spikes on needs its own estimate only if something reads that
  /// rather than its spike source: the readout, a population, or a map that is not a GEMM.
  private static func readsEstimate(
    _ kinds: [LoweredNode.Kind], inputs: [[Int]], spikeDrives: [SpikeDrive?], readout: Int
  ) -> [Bool] {
    var readsEstimate = [Bool](repeating: false, count: kinds.count)
    for position in kinds.indices.reversed() {
      var reads = false
      switch kinds[position] {
      case .alias: reads = readsEstimate[position] || position == readout
      case .affine(let map): reads = spikeDrives[position] == nil || map.fanOut == 0
      case .population, .encoder, .constant, .nir: reads = true
      }
      if reads { for input in inputs[position] { readsEstimate[input] = true } }
    }
    readsEstimate[readout] = true
    return readsEstimate
  }

  /// The buffer each node writes, and each buffer's values per sample. Under the dense update an
  /// affine node's output is recomputed before anything reads it in a step and is not needed
  /// after its last reader, so affine nodes whose lifetimes within a step do not overlap share
  /// buffers. Aliases share their input's; the readout is read after the step, and everything
  /// else (populations, constants, event-updated maps) keeps its own.
  static func buffers(
    _ kinds: [LoweredNode.Kind], inputs: [[Int]], sizes: [Int], update: AffineUpdate, readoutOwner: Int,
    persistent: Set<Int> = []
  ) -> (bufferOf: [Int], sizes: [Int]) {
    var lastRead = Array(0..<kinds.count)
    for (position, inputs) in inputs.enumerated() {
      for input in inputs { lastRead[input] = max(lastRead[input], position) }
    }
    for position in kinds.indices.reversed() {
      if case .alias = kinds[position] {
        lastRead[inputs[position][0]] = max(lastRead[inputs[position][0]], lastRead[position])
      }
    }
    var bufferOf = [Int]()
    var bufferSizes = [Int]()
    var pool = [(buffer: Int, freeAfter: Int)]()
    for position in kinds.indices {
      switch kinds[position] {
      case .alias:
        bufferOf.append(bufferOf[inputs[position][0]])
      case .affine where update == .dense && position != readoutOwner && !persistent.contains(position):
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
      case .affine, .population, .encoder, .constant, .nir:
        bufferOf.append(bufferSizes.count)
        bufferSizes.append(sizes[position])
      }
    }
    return (bufferOf, bufferSizes)
  }

  /// Scratch holds the drive a population computes before its update (pooling, LayerNorm,
  /// softmax) and, under the event update, the change of a map that is not a GEMM; the
  /// workspace holds the goals of targets the update loop does not compute itself. Each is as
  /// large as the largest node that uses it (often none: every population of a decomposed ReLU
  /// CNN is fused with its target).
  static func scratch(
    _ kinds: [LoweredNode.Kind], sizes: [Int], update: AffineUpdate, spikeDrives: [SpikeDrive?]
  ) -> (scratch: Int, workspace: Int) {
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
      case .affine, .encoder, .alias, .constant, .nir: break
      }
    }
    return (scratchSize, workspaceSize)
  }
}
