import Graph
import Tensor

/// A spiking network lowered for time-stepped simulation of batches of at most `capacity`
/// images: one ``Stage`` per graph node, in graph order, each with its inputs, parameters and
/// sliding windows resolved and the buffers it keeps allocated once, so that a time step looks
/// nothing up and allocates nothing. ``LoweringPlan`` decides the layout first.
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
  var stages: [Stage]
  /// The images loaded by the last ``load(input:chunkRows:ann:)``.
  private(set) var images = 0
  /// Shared by all stages: a fused population's drive or an affine map of changes (scratch),
  /// the targets of the population being stepped (workspace), im2col columns, and the raw
  /// image under spike encoding.
  let scratch: Storage
  let workspace: Storage
  let columns: Storage
  private let image: Storage
  private let encoderDynamics: Dynamics
  /// λ of a spike-encoding input population: the largest input magnitude.
  private let inputScale: Float
  /// See ``defaultSparseDensityLimit``.
  let sparseDensityLimit: Double
  /// Steps taken since the last ``load(input:chunkRows:ann:)``.
  private(set) var stepsTaken = 0
  /// When set, called at every step of every population with its position and drive — the
  /// values its neurons read in that step (and a two-input target's second operand) — just
  /// before the population advances on them (``DriveRecording``).
  var driveObserver:
    ((_ position: Int, _ first: UnsafeBufferPointer<Float>, _ second: UnsafeBufferPointer<Float>?) -> Void)?
  /// The position of the readout.
  let readoutPosition: Int
  /// Nodes a recurrent edge reads in the next step (``LoweringPlan/delayed``).
  private let delayed: [Int]

  /// How the input population of a spike encoding runs: under rate coding an integrate-and-fire
  /// neuron — membrane neurons that send spikes when the network's populations do — and signGD
  /// otherwise.
  static func encoderDynamics(_ encoding: InputEncoding, network: SpikingNetwork) -> Dynamics {
    guard encoding == .rate else { return .signGD }
    return network.populations.contains { $0.dynamics.sendsSpikes } ? .integrateAndFire : .subgradient
  }

  convenience init(
    _ network: SpikingNetwork, capacity: Int, update: AffineUpdate, encoding: InputEncoding,
    inputScale: Float,
    sparseDensityLimit: Double = LoweredNetwork.defaultSparseDensityLimit
  ) {
    self.init(
      LoweringPlan(network, capacity: capacity, update: update, encoding: encoding), capacity: capacity,
      update: update, encoderDynamics: Self.encoderDynamics(encoding, network: network),
      encodesInput: encoding != .analog, inputScale: inputScale, sparseDensityLimit: sparseDensityLimit)
  }

  /// A NIR graph on the same engine (``LoweringPlan/init(nir:capacity:)``): its Input is loaded
  /// as the one constant, in the order the plan stores it.
  convenience init(nir graph: NIRGraph, capacity: Int) {
    self.init(
      LoweringPlan(nir: graph, capacity: capacity), capacity: capacity, update: .dense,
      encoderDynamics: .signGD, encodesInput: false, inputScale: 1,
      sparseDensityLimit: Self.defaultSparseDensityLimit)
  }

  private init(
    _ plan: LoweringPlan, capacity: Int, update: AffineUpdate, encoderDynamics: Dynamics, encodesInput: Bool,
    inputScale: Float, sparseDensityLimit: Double
  ) {
    self.sparseDensityLimit = sparseDensityLimit
    self.capacity = capacity
    self.update = update
    self.inputScale = inputScale > 0 && inputScale.isFinite ? inputScale : 1
    self.encoderDynamics = encoderDynamics
    let buffers = plan.bufferSizes.map { Storage(count: capacity * $0) }
    var tracked = [Int: (previous: Storage, change: Storage)]()
    for buffer in plan.trackedBuffers {
      let size = capacity * plan.bufferSizes[buffer]
      tracked[buffer] = (Storage(count: size), Storage(count: size))
    }
    stages = plan.nodes.enumerated().map { position, node in
      let neurons: NIRNeurons? = if case .nir(let neurons) = node.kind { neurons } else { nil }
      return Stage(
        node: node, output: buffers[node.buffer], tracked: tracked[node.buffer],
        spikeDrive: plan.spikeDrives[position], readsEstimate: plan.readsEstimate[position],
        spikeSource: plan.spikeSources.contains(position) ? Storage(count: capacity * node.size) : nil,
        sum: plan.summed[position] ? Storage(count: capacity * node.size) : nil,
        mean: plan.summed[position] ? Storage(count: capacity * node.size) : nil,
        membrane: neurons?.hasMembrane == true ? Storage(count: capacity * node.size) : nil,
        synapse: neurons?.hasSynapse == true ? Storage(count: capacity * node.size) : nil)
    }
    scratch = Storage(count: capacity * plan.scratchSize)
    workspace = Storage(count: capacity * plan.workspaceSize)
    columns = Storage(count: plan.columnsSize)
    image = Storage(count: encodesInput ? capacity * plan.inputSize : 1)
    readoutPosition = plan.readout
    delayed = plan.delayed.sorted()
  }

  /// The neurons of the population (or encoder) at `position`, once a batch is loaded.
  func population(at position: Int) -> Population<Float>? { stages[position].population }

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
      guard case .population = stages[position].node.kind else {
        preconditionFailure("only populations are replayed")
      }
    }
    // What the readout needs, walking back through inputs and stopping at replayed populations.
    var needed = [Bool](repeating: false, count: stages.count)
    needed[readoutPosition] = true
    for position in stages.indices.reversed() where needed[position] && sources[position] == nil {
      for input in stages[position].node.inputs { needed[input] = true }
    }
    for position in stages.indices {
      stages[position].replayed = sources[position]
      stages[position].skipped = !needed[position]
    }
  }

  /// From the next step on, keeps each step's spikes of the populations (or the encoder) at
  /// `positions` for ``recordedSpikes(at:)``.
  func recordSpikes(at positions: Set<Int>) {
    for position in positions.sorted() where stages[position].spikeRecord == nil {
      stages[position].spikeRecord = Storage(count: capacity * stages[position].node.size)
    }
  }

  /// The last step's spikes of a population ``recordSpikes(at:)`` named, for the loaded images.
  func recordedSpikes(at position: Int) -> UnsafeBufferPointer<Float>? {
    stages[position].spikeRecord.map { UnsafeBufferPointer($0.prefix(images * stages[position].node.size)) }
  }

  /// The nodes whose ANN activations ``load(input:chunkRows:ann:)`` copies.
  var constantNodes: [String] {
    stages.filter { if case .constant = $0.node.kind { true } else { false } }.map(\.node.name)
  }

  /// The current estimate of the node at `position` for the loaded images: its value, or for a
  /// node whose value is one step's spikes or current, their mean over the steps so far.
  func estimate(at position: Int) -> UnsafeBufferPointer<Float> {
    let count = images * stages[position].node.size
    guard let sum = stages[position].sum?.values, let mean = stages[position].mean?.values else {
      return UnsafeBufferPointer(stages[position].output.prefix(count))
    }
    let scale = 1 / Float(max(stepsTaken, 1))
    for i in 0..<count { mean[i] = sum[i] * scale }
    return UnsafeBufferPointer(rebasing: mean[0..<count])
  }

  /// What the node at `position` has sent over all steps so far — spikes times λ, or the
  /// readout's input current — summed; nil for a node that holds an estimate.
  func accumulated(at position: Int) -> UnsafeBufferPointer<Float>? {
    stages[position].sum.map { UnsafeBufferPointer($0.prefix(images * stages[position].node.size)) }
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
      for stage in stages {
        guard case .constant = stage.node.kind else { continue }
        let value = values[stage.node.name]!
        let target = UnsafeMutableBufferPointer(
          rebasing: stage.output.values[
            (rows.lowerBound * stage.node.size)..<(rows.upperBound * stage.node.size)])
        value.scalars.withUnsafeBufferPointer { _ = target.update(fromContentsOf: $0) }
      }
    }
    for position in stages.indices where !stages[position].skipped {
      let node = stages[position].node
      let count = images * node.size
      let buffer = stages[position].output
      switch node.kind {
      case .encoder:
        input.scalars.withUnsafeBufferPointer { _ = image.values.update(fromContentsOf: $0) }
        stages[position].population = Population(
          dynamics: encoderDynamics, target: .unary(.identity), scale: inputScale, count: count)
        buffer.values.update(repeating: 0)
      case .population(let spec, _):
        let population = Population<Float>(spec, count: count)
        buffer.values.update(repeating: 0)
        population.publishInitial(into: buffer.prefix(count))
        stages[position].population = population
      case .nir(let neurons):
        buffer.values.update(repeating: 0)
        if let membrane = stages[position].membrane {
          neurons.start(membrane.prefix(count), count: node.size)
        }
        stages[position].synapse?.values.update(repeating: 0)
      case .constant, .alias, .affine:
        break
      }
    }
    // Affine nodes start at their map of the initial estimates.
    for (position, stage) in stages.enumerated() where !stage.skipped {
      if case .affine(let map) = stage.node.kind { apply(map, at: position, changesOnly: false) }
    }
    // What a recurrent edge brings to the first step: 0.
    for position in delayed { stages[position].output.values.update(repeating: 0) }
    for stage in stages where !stage.isAlias {
      guard let tracked = stage.tracked else { continue }
      _ = tracked.previous.values.update(fromContentsOf: stage.output.values)
      tracked.change.values.update(repeating: 0)
    }
    for stage in stages { stage.sum?.values.update(repeating: 0) }
    stepsTaken = 0
  }

  /// Advances every node by one time step, in topological order.
  func step() {
    for position in stages.indices where !stages[position].skipped {
      let node = stages[position].node
      switch node.kind {
      case .constant, .alias: continue
      case .encoder:
        let before = stages[position].population!.spikeCount
        let (spikes, weighted, workspace) = spikeOutputs(position)
        stages[position].population!.advance(
          first: UnsafeBufferPointer(image.prefix(images * node.size)), output: output(position),
          spikes: spikes, weightedSpikes: weighted, workspace: workspace)
        stages[position].fired = stages[position].population!.spikeCount &- before
        recordWeightedSpikes(position)
      case .population where stages[position].replayed != nil:
        _ = output(position).update(fromContentsOf: stages[position].replayed!(stepsTaken + 1))
        stages[position].fired = 0
      case .population(_, let drive):
        let before = stages[position].population!.spikeCount
        advance(position, drive, output: output(position))
        stages[position].fired = stages[position].population!.spikeCount &- before
        recordWeightedSpikes(position)
      case .nir(let neurons):
        let count = images * node.size
        stages[position].fired = neurons.step(
          value(node.inputs[0]), output(position), membrane: stages[position].membrane?.prefix(count),
          synapse: stages[position].synapse?.prefix(count), count: node.size, batch: images)
      case .affine(let map):
        if let drive = stages[position].spikeDrive {
          follow(map, at: position, drive)
        } else {
          apply(map, at: position, changesOnly: update == .event)
        }
      }
      if let tracked = stages[position].tracked {
        let output = output(position)
        let (last, change) = (tracked.previous.values, tracked.change.values)
        for i in 0..<output.count {
          change[i] = output[i] - last[i]
          last[i] = output[i]
        }
      }
    }
    for stage in stages where !stage.skipped {
      guard let sum = stage.sum?.values else { continue }
      let output = stage.output.prefix(images * stage.node.size)
      for i in 0..<output.count { sum[i] += output[i] }
    }
    stepsTaken += 1
  }

  /// The output of the node at `position` for the loaded images.
  func output(_ position: Int) -> UnsafeMutableBufferPointer<Float> {
    stages[position].output.prefix(images * stages[position].node.size)
  }

  /// The current estimate of the node at `position`, or (`changes`) its change in this step.
  func value(_ position: Int, changes useChanges: Bool = false) -> UnsafeBufferPointer<Float> {
    let storage = useChanges ? stages[position].tracked!.change : stages[position].output
    return UnsafeBufferPointer(storage.prefix(images * stages[position].node.size))
  }

  /// The spike buffer of the node at `position` for the loaded images, if an affine node reads
  /// its spikes.
  func spikeSource(_ position: Int) -> UnsafeMutableBufferPointer<Float>? {
    stages[position].spikeSource.map { $0.prefix(images * stages[position].node.size) }
  }

  /// The spike outputs of a population's step: the `η_t·λs_t` that affine nodes read, or where
  /// its spikes are recorded and no affine node reads them, the record itself (then the
  /// population evaluates its target in its own workspace, as the shared one is sized for the
  /// steps without spike output).
  func spikeOutputs(_ position: Int) -> (
    spikes: UnsafeMutableBufferPointer<Float>?, weighted: UnsafeMutableBufferPointer<Float>?,
    workspace: UnsafeMutableBufferPointer<Float>?
  ) {
    let weighted = spikeSource(position)
    guard weighted == nil, let record = stages[position].spikeRecord else {
      return (nil, weighted, workspace.values)
    }
    return (record.prefix(images * stages[position].node.size), nil, nil)
  }

  /// After a recorded population's step whose spikes went out weighted: their signs into the record.
  private func recordWeightedSpikes(_ position: Int) {
    guard let record = stages[position].spikeRecord?.values, let weighted = spikeSource(position) else {
      return
    }
    for i in weighted.indices { record[i] = weighted[i] > 0 ? 1 : weighted[i] < 0 ? -1 : 0 }
  }

  /// The share of nonzero spike-source entries up to which an affine node fed by spikes visits
  /// the nonzero entries rather than running a GEMM over all of them (docs/benchmarks.md).
  static let defaultSparseDensityLimit = 0.05
  /// Maps with fewer outputs per input than this always run their GEMM: a nonzero input then
  /// adds too few weights for the visit to pay (docs/benchmarks.md).
  static let sparseFanOutMinimum = 64
}
