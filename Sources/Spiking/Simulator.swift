import Dispatch
import Foundation
import Graph
import Tensor

/// What a simulation measured at every requested number of time steps.
public struct SimulationResult: Sendable, Codable {
  public struct PopulationResult: Sendable, Codable {
    public let name: String
    public let op: String
    public let dynamics: Dynamics
    public let neurons: Int
    public let scale: Double
    /// Mean `|estimate − ANN activation|` over neurons and images, aligned with `timesteps`.
    public let meanAbsError: [Double]
    /// `meanAbsError` divided by the mean `|ANN activation|`.
    public let meanRelativeError: [Double]
    /// Spikes per neuron per step, averaged over the first T steps, aligned with `timesteps`.
    public let spikesPerNeuronPerStep: [Double]
    /// Synaptic operations per image over the first T steps: spikes × the mean fan-out of a
    /// neuron, aligned with `timesteps`.
    public let synapticOperations: [Double]
  }

  public let timesteps: [Int]
  /// Top-1 accuracy of the spiking network after T steps, aligned with `timesteps`.
  public let accuracy: [Double]
  /// Top-1 accuracy of the ANN on the same images.
  public let annAccuracy: Double
  /// The share of images whose spiking prediction after T steps is the ANN's own (the same
  /// arg-max of the readout), aligned with `timesteps`: how faithfully the network follows its
  /// ANN, whatever the labels.
  public var agreement: [Double] = []
  public let images: Int
  public let populations: [PopulationResult]
  /// Mean `|readout − ANN readout|` over the readout's elements and the images (the class
  /// scores before a final softmax), aligned with `timesteps`.
  public let readoutMeanAbsError: [Double]
  /// Multiply-accumulates of the ANN's weight layers (Dense and Conv2D) per image.
  public var annMultiplyAccumulates: Double = 0
  /// Multiply-accumulates per image of the weight layers the network computes once per image
  /// rather than every step: those fed by the analog input alone (none under spike encoding).
  public var onceMultiplyAccumulates: Double = 0
  /// When asked for, each image's readout at the largest T, image after image in data order:
  /// the estimate the prediction is taken from or, in a network of membrane neurons, the
  /// readout's input current summed over t = 1…T.
  public var readout: [Float]?
  /// When asked for, the spikes of one image (``SpikeRaster``).
  public var raster: SpikeRaster?
  /// What a step cost next to the ANN's forward pass, on this process's batches.
  public var stepCost: StepCost?
}

/// How affine nodes follow their inputs during simulation (docs/dynamics.md, "Simulation").
public enum AffineUpdate: String, Sendable, Hashable, Codable, CaseIterable {
  /// Recompute `x̂ = A(v)` from the current input estimates at every step.
  case dense
  /// Follow what the inputs send, starting from `A` of the initial estimates: a map fed by an
  /// integrate-and-fire population decays toward its bias and adds the weights of the step's
  /// spikes, `x̂_t = (1 − η_t)·x̂_{t−1} + η_t·b + L(η_t·λs_t)` (visiting only the inputs that
  /// fired where they are few); any other accumulates `x̂_t = x̂_{t−1} + L(v_t − v_{t−1})` with
  /// `L` the linear part of `A`. Agrees with `dense` to rounding.
  case event
}

/// How the input image reaches the network (docs/dynamics.md, "Input encoding").
public enum InputEncoding: String, Sendable, Hashable, Codable, CaseIterable {
  /// The analog image at every step (direct encoding): the input and the affine layers fed only
  /// by it are computed once per batch.
  case analog
  /// A population of integrate-and-fire neurons (subgradient dynamics, `η_t = 1/(t+1)`) per
  /// pixel, tracking the pixel scaled to [0, 1]: rate coding, deterministic. In a network of
  /// membrane neurons (``Dynamics/integrateAndFire``) they are membrane neurons too, charged by
  /// the pixel each step, and the first layer receives their spikes.
  case rate
  /// A population of signGD neurons (default schedule) per pixel.
  case signGD = "signgd"
}

/// Everything that decides how a simulation runs, apart from the network and the data: what
/// `snnsim run` and `snnsim compare` take on their command lines.
public struct SimulationSettings: Sendable, Hashable, Codable {
  /// The T at which accuracy and errors are measured: positive, strictly increasing.
  public var timesteps: [Int]
  /// Images simulated together.
  public var batchSize: Int
  public var update: AffineUpdate
  public var input: InputEncoding
  /// Worker threads (``BatchWorker``), each simulating one batch at a time with single-threaded
  /// BLAS; nil uses every core. Results do not depend on it. (Spreading batches over the
  /// processes of a job is ``Sharding``'s.)
  public var threads: Int?
  /// The position among the simulated images of the image whose spikes are recorded
  /// (``SimulationResult/raster``); nil records none.
  public var rasterImage: Int?

  public init(
    timesteps: [Int] = [1, 2, 4, 8, 16, 32, 64, 128, 256], batchSize: Int = 100,
    update: AffineUpdate = .dense, input: InputEncoding = .analog, threads: Int? = nil,
    rasterImage: Int? = nil
  ) {
    self.timesteps = timesteps
    self.batchSize = batchSize
    self.update = update
    self.input = input
    self.threads = threads
    self.rasterImage = rasterImage
  }
}

/// How the batches of a simulation are spread over the processes of a job (docs/scaling.md):
/// each process simulates the batches it owns, and the measures of every batch are exchanged so
/// that each process adds all of them in batch order — the same numbers, in the same order, as
/// one process simulating every batch.
public struct Sharding: Sendable {
  /// Whether this process simulates batch `index` of `count`.
  public let owns: @Sendable (_ index: Int, _ count: Int) -> Bool
  /// Every process's measures, by batch index, from this process's: the union over the job.
  public let exchange: @Sendable ([Int: BatchMeasures]) throws -> [Int: BatchMeasures]
  /// Whether this process reports (records the raster; only it writes results).
  public let reports: Bool
  /// The processes the batches are dealt over.
  public let processes: Int

  public init(
    owns: @escaping @Sendable (Int, Int) -> Bool,
    exchange: @escaping @Sendable ([Int: BatchMeasures]) throws -> [Int: BatchMeasures], reports: Bool,
    processes: Int = 1
  ) {
    self.owns = owns
    self.exchange = exchange
    self.reports = reports
    self.processes = processes
  }

  /// One process simulating every batch.
  public static let alone = Sharding(owns: { _, _ in true }, exchange: { $0 }, reports: true)
}

/// What one batch measured: counts and running sums in index order (the terms a whole run adds
/// up in batch order). Codable, to be sent between processes.
public struct BatchMeasures: Sendable, Codable, Equatable {
  public var annCorrect: Int
  /// Per measured T.
  public var correct: [Int]
  /// Per measured T: images whose prediction is the ANN's.
  public var agreed: [Int]
  /// Per reported population: `Σ |a|`; per population and T: `Σ |λ·v − a|` and spikes / T.
  public var annMagnitude: [Double]
  public var absError: [[Double]]
  public var spikes: [[Double]]
  /// Per T: `Σ |readout − ANN readout|`.
  public var readoutError: [Double]
  /// The batch's readout at the largest T, when kept.
  public var readout: [Float]
}

/// Runs a ``SpikingNetwork`` time step by time step; within a step nodes update in topological
/// order, so a change reaches the output in the same step.
public enum Simulator {
  /// Simulates `images` and measures accuracy and approximation error at every T in
  /// `settings.timesteps`.
  ///
  /// Batches go to worker threads, each with its own lowered network and single-threaded BLAS;
  /// every batch is simulated whole by one worker, and the measures of batches are summed in
  /// batch order, so the result does not depend on the number of threads (it does on the batch
  /// size: BLAS may round an image's products differently in batches of other sizes).
  ///
  /// Under spike encoding the input becomes a population (named after the input node, reported
  /// first) with λ = the largest pixel magnitude of `images`.
  /// - Parameter progress: (images done, total images, steps done in the current batch).
  /// - Complexity: O(max T × one forward pass) per batch; memory O(batch × neurons), allocated
  ///   once: nothing grows with T but the per-T result rows.
  /// - Parameter keepReadout: also return each image's readout at the largest T
  ///   (``SimulationResult/readout``).
  /// - Parameter sharding: which batches this process simulates, and how the measures of the
  ///   others reach it (``Sharding``); every process returns the whole result.
  public static func run(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], settings: SimulationSettings,
    keepReadout: Bool = false, sharding: Sharding = .alone,
    progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> SimulationResult {
    try run(
      network, images: images, labels: labels, settings: settings,
      sparseDensityLimit: LoweredNetwork.defaultSparseDensityLimit, keepReadout: keepReadout,
      sharding: sharding, progress: progress)
  }

  /// ``run(_:images:labels:settings:keepReadout:sharding:progress:)`` with the event update's choice between
  /// visiting spikes and a GEMM made at another spike density (tests run both ways).
  static func run(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], settings: SimulationSettings,
    sparseDensityLimit: Double, keepReadout: Bool = false, sharding: Sharding = .alone,
    progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> SimulationResult {
    let timesteps = settings.timesteps
    let batchSize = settings.batchSize
    precondition(
      !timesteps.isEmpty && zip(timesteps, timesteps.dropFirst()).allSatisfy { $0 < $1 } && timesteps[0] > 0)
    precondition(batchSize > 0, "batch size must be positive")
    precondition(
      settings.rasterImage.map { labels.indices.contains($0) } ?? true, "raster image outside the images")
    let graph = network.graph
    let adapted = try graph.adaptInput(images)
    let inputScale = adapted.scalars.reduce(Float(0)) { max($0, abs($1)) }
    let positions = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    let inputNode = graph.inputNodes[0]
    // What is reported: the encoder (if any), then every population in node order.
    var reported = network.populations.map {
      Reported(
        node: $0.node, position: positions[$0.node]!, dynamics: $0.dynamics, scale: $0.scale,
        op: graph.node($0.node)!.op.functionName)
    }
    if settings.input != .analog {
      reported.insert(
        Reported(
          node: inputNode.name, position: positions[inputNode.name]!,
          dynamics: LoweredNetwork.encoderDynamics(settings.input, network: network),
          scale: Double(inputScale),
          op: "input"),
        at: 0)
    }
    let capacity = min(batchSize, max(labels.count, 1))
    let plan = BatchPlan(images: labels.count, batchSize: batchSize, sharding: sharding)
    let workers = max(
      1, min(settings.threads ?? ProcessInfo.processInfo.activeProcessorCount, plan.owned.count))
    let shards = (0..<workers).map { _ in
      BatchWorker(
        LoweredNetwork(
          network, capacity: capacity, update: settings.update, encoding: settings.input,
          inputScale: inputScale, sparseDensityLimit: sparseDensityLimit),
        reported: reported, timesteps: timesteps, readout: positions[network.readout]!,
        keepReadout: keepReadout)
    }
    // Every batch's measures, added in batch order: the same sums whichever process simulated
    // which batch.
    var totals = Totals(reported: reported.count, timesteps: timesteps.count)
    for batch in try plan.run(
      workers: workers, progress: progress,
      simulate: { w, range, tick in
        shards[w].simulate(graph, images: adapted.rows(range), labels: Array(labels[range]), progress: tick)
      },
      measures: { shards[$0].measures })
    {
      totals.add(batch)
    }
    let count = Double(labels.count)
    let fanOut = reported.map { Self.meanFanOut(of: $0.node, in: graph) }
    let results = reported.enumerated().map { k, entry -> SimulationResult.PopulationResult in
      let neurons = graph.nodes[entry.position].shape.reduce(1, *)
      let elements = Double(neurons) * count
      let magnitude = max(totals.annMagnitude[k] / elements, 1e-12)
      let rate = totals.spikes[k].map { $0 / elements }
      return SimulationResult.PopulationResult(
        name: entry.node, op: entry.op, dynamics: entry.dynamics, neurons: neurons, scale: entry.scale,
        meanAbsError: totals.absError[k].map { $0 / elements },
        meanRelativeError: totals.absError[k].map { $0 / elements / magnitude },
        spikesPerNeuronPerStep: rate,
        synapticOperations: zip(rate, timesteps).map { $0 * Double($1) * Double(neurons) * fanOut[k] })
    }
    let readoutElements = Double(graph.node(network.readout)!.shape.reduce(1, *)) * count
    var result = SimulationResult(
      timesteps: timesteps, accuracy: totals.correct.map { Double($0) / count },
      annAccuracy: Double(totals.annCorrect) / count, images: labels.count, populations: results,
      readoutMeanAbsError: totals.readoutError.map { $0 / readoutElements },
      readout: keepReadout ? totals.readout : nil)
    result.agreement = totals.agreed.map { Double($0) / count }
    result.stepCost = shards.reduce(into: StepCost()) { $0.add($1.cost) }
    result.annMultiplyAccumulates = Self.multiplyAccumulates(in: graph)
    // The nodes the simulator copies from the ANN once per batch instead of stepping (under
    // analog input, the input and the affine nodes fed by it alone).
    result.onceMultiplyAccumulates = Self.multiplyAccumulates(
      in: graph, only: Set(shards[0].lowered.constantNodes))
    if let image = settings.rasterImage, sharding.reports {
      result.raster = Self.raster(
        network, images: adapted, labels: labels, index: image, steps: timesteps.last!, settings: settings,
        reported: reported, inputScale: inputScale)
    }
    return result
  }

  /// The multiply-accumulates per image of the graph's Dense and Conv2D nodes (those named in
  /// `only`, when given): each weight times the input values it meets — at a padded border a
  /// convolution meets fewer, a grouped one only its group's channels.
  public static func multiplyAccumulates(in graph: Graph, only: Set<String>? = nil) -> Double {
    var total = 0.0
    for node in graph.nodes where only?.contains(node.name) ?? true {
      guard let input = node.inputs.first.flatMap({ graph.node($0)?.shape }) else { continue }
      switch node.op {
      case .dense(let units, _):
        total += Double(input.reduce(1, *)) * Double(units)
      case .conv2d(let a):
        total +=
          Double(
            windowReads(
              a.window(input: input), channels: input.last ?? 1, dilation: (a.dilation[0], a.dilation[1])))
          * Double(a.filters / a.groups)
      case .conv2dTranspose(let a):
        // Every input pixel adds its kH·kW·filters products (dropping none at the borders).
        total += Double(input.reduce(1, *)) * Double(a.kernelSize[0] * a.kernelSize[1] * a.filters)
      case .input, .pool2d, .globalAveragePool2d, .flatten, .reshape, .batchNorm, .layerNorm, .dropout, .add,
        .concatenate, .softmax, .activation, .binary, .windowElement, .lastAxis, .lastAxisRotation,
        .scaleShift,
        .zeroPad2d, .crop2d, .permute, .upSample2d, .spread2d:
        continue
      }
    }
    return total
  }

  /// ``run(_:images:labels:settings:keepReadout:sharding:progress:)`` with the settings spelled out.
  public static func run(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], timesteps: [Int], batchSize: Int = 100,
    update: AffineUpdate = .dense, input: InputEncoding = .analog
  ) throws -> SimulationResult {
    try run(
      network, images: images, labels: labels,
      settings: SimulationSettings(timesteps: timesteps, batchSize: batchSize, update: update, input: input))
  }

  /// The mean number of downstream connections of one neuron of `node`: for every affine node
  /// it feeds (directly or through Flatten/Reshape), how many outputs each input element reaches
  /// on average; a population it feeds directly counts one. Sums, differences and window
  /// selections only route values (a spike of `a` in `a + ReLU(b − a)` goes on to the weights
  /// of the next layer, as it does in the exported NIR graph), so the count goes on through
  /// them to what they feed. A spike costs this many synaptic operations.
  static func meanFanOut(of node: String, in graph: Graph) -> Double {
    var memo = [String: Double]()
    return meanFanOut(of: node, in: graph, memo: &memo)
  }

  private static func meanFanOut(of node: String, in graph: Graph, memo: inout [String: Double]) -> Double {
    if let known = memo[node] { return known }
    var total = 0.0
    var sources: Set<String> = [node]
    for reader in graph.nodes where reader.inputs.contains(where: sources.contains) {
      if reader.op.sharesInputBuffer {
        sources.insert(reader.name)
        continue
      }
      let inputShape = graph.node(reader.inputs.first(where: sources.contains)!)!.shape
      let inputCount = Double(inputShape.reduce(1, *))
      let outputCount = Double(reader.shape.reduce(1, *))
      // How many times the node is among the reader's inputs (a + a counts twice).
      let uses = Double(reader.inputs.filter(sources.contains).count)
      switch reader.op {
      case .dense(let units, _): total += Double(units)
      case .conv2d(let a):
        // Every output position reads kH·kW·Cin/groups inputs (fewer at padded borders, counted
        // exactly; dilated taps counted where they land).
        total +=
          Double(
            windowReads(
              a.window(input: inputShape), channels: inputShape.last ?? 1,
              dilation: (a.dilation[0], a.dilation[1])))
          * Double(a.filters / a.groups) / inputCount
      case .pool2d(let a):
        total += Double(windowReads(a.window(input: inputShape), channels: inputShape.last ?? 1)) / inputCount
      case .add, .binary(.add), .binary(.subtract):
        total += uses * meanFanOut(of: reader.name, in: graph, memo: &memo)
      case .spread2d:
        // Each input element lands on one output element; the zeros between carry nothing.
        total += meanFanOut(of: reader.name, in: graph, memo: &memo)
      case .windowElement, .zeroPad2d, .crop2d, .permute, .upSample2d:
        // A selection is no synapse: its elements reach what its readers' synapses reach.
        total += outputCount / max(inputCount, 1) * meanFanOut(of: reader.name, in: graph, memo: &memo)
      case .binary, .activation, .concatenate, .batchNorm, .scaleShift, .globalAveragePool2d:
        total += 1
      case .softmax, .layerNorm, .lastAxis:
        total += Double(inputShape.last ?? 1)
      case .conv2dTranspose(let a):
        // Every input reaches kH·kW·filters outputs.
        total += Double(a.kernelSize[0] * a.kernelSize[1] * a.filters)
      case .lastAxisRotation, .flatten, .reshape, .dropout:
        // Each output reads one input.
        total += outputCount / max(inputCount, 1)
      case .input:
        preconditionFailure("an Input reads nothing")
      }
    }
    memo[node] = total
    return total
  }

  /// How many (input pixel, output position) pairs a sliding window reads, times channels; a
  /// dilated window reads every `dilation`-th row and column of the span it covers.
  static func windowReads(_ window: Window2D?, channels: Int, dilation: (Int, Int) = (1, 1)) -> Int {
    guard let window else { return 0 }
    // Taps inside the input, per output row and per output column: the reads are their products.
    func taps(_ start: Int, span: Int, step: Int, size: Int) -> Int {
      stride(from: start, to: start + span, by: step).reduce(0) { $0 + ((0..<size).contains($1) ? 1 : 0) }
    }
    let rows = (0..<window.outputHeight).map {
      taps(
        $0 * window.strideHeight - window.padTop, span: window.kernelHeight, step: dilation.0,
        size: window.inputHeight)
    }
    let columns = (0..<window.outputWidth).map {
      taps(
        $0 * window.strideWidth - window.padLeft, span: window.kernelWidth, step: dilation.1,
        size: window.inputWidth)
    }
    return rows.reduce(0, +) * columns.reduce(0, +) * channels
  }
}

/// The batches of a simulation — `batchSize` images each, cut the same way whatever the job —
/// and those this process simulates under a ``Sharding``.
struct BatchPlan {
  let all: [Range<Int>]
  /// Indices into ``all`` of this process's batches.
  let owned: [Int]
  let sharding: Sharding

  init(images: Int, batchSize: Int, sharding: Sharding) {
    all = stride(from: 0, to: images, by: batchSize).map { $0..<min($0 + batchSize, images) }
    owned = all.indices.filter { [all] in sharding.owns($0, all.count) }
    self.sharding = sharding
  }

  /// This process's batches.
  var batches: [Range<Int>] { owned.map { all[$0] } }

  /// Simulates this process's batches on `workers` threads (``inBatchGroups(_:workers:images:progress:simulate:combine:)``),
  /// takes each batch's measures from the worker that simulated it, and returns every batch's
  /// measures — this process's and the others' (``Sharding/exchange``) — in batch order.
  func run(
    workers: Int, progress: (Int, Int, Int) -> Void,
    simulate: (_ worker: Int, _ batch: Range<Int>, _ tick: ((Int) -> Void)?) -> Void,
    measures: (_ worker: Int) -> BatchMeasures
  ) throws -> [BatchMeasures] {
    let batches = self.batches
    var measured = [Int: BatchMeasures]()
    var done = 0
    inBatchGroups(
      batches, workers: workers, images: batches.reduce(0) { $0 + $1.count }, progress: progress,
      simulate: simulate,
      combine: { w in
        measured[owned[done]] = measures(w)
        done += 1
      })
    let every = try sharding.exchange(measured)
    return try all.indices.map { index in
      guard let batch = every[index] else { throw ShardingError.missingBatch(index) }
      return batch
    }
  }
}

/// A job whose processes did not together simulate every batch.
public enum ShardingError: Error, CustomStringConvertible {
  case missingBatch(Int)

  public var description: String {
    switch self {
    case .missingBatch(let index): return "no process of the job simulated batch \(index)"
    }
  }
}

/// Simulates `batches` on `workers` threads, one batch each at a time: `simulate(worker, batch,
/// tick)` for the batches of a group concurrently (`tick`, the steps done, given to worker 0
/// only), then `combine(worker)` for each in batch order, so that what is combined does not
/// depend on the number of workers; `progress` gets (images done, images, steps done).
func inBatchGroups(
  _ batches: [Range<Int>], workers: Int, images: Int, progress: (Int, Int, Int) -> Void,
  simulate: (_ worker: Int, _ batch: Range<Int>, _ tick: ((Int) -> Void)?) -> Void,
  combine: (_ worker: Int) -> Void
) {
  withoutActuallyEscaping(progress) { progress in
    withoutActuallyEscaping(simulate) { simulate in
      let tick = UncheckedSendable(progress)
      let work = UncheckedSendable(simulate)
      for group in stride(from: 0, to: batches.count, by: workers) {
        let members = batches[group..<min(group + workers, batches.count)]
        DispatchQueue.concurrentPerform(iterations: members.count) { w in
          let range = members[group + w]
          work.value(w, range, w == 0 ? { t in tick.value(range.lowerBound, images, t) } : nil)
        }
        for w in members.indices { combine(w - group) }
        progress(members.last!.upperBound, images, 0)
      }
    }
  }
}

/// A value handed to concurrent workers that the caller knows is safe to share (a progress
/// callback only ever called from one worker).
struct UncheckedSendable<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
