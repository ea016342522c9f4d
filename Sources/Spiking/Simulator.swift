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
  public let images: Int
  public let populations: [PopulationResult]
}

/// How affine nodes follow their inputs during simulation (docs/dynamics.md, "Simulation").
public enum AffineUpdate: String, Sendable, Hashable, Codable, CaseIterable {
  /// Recompute `x̂ = A(v)` from the current input estimates at every step.
  case dense
  /// Accumulate: `x̂_t = x̂_{t−1} + L(v_t − v_{t−1})` with `L` the linear part of `A`, starting
  /// from `A` of the initial estimates — what a receiver of signed steps does. Agrees with
  /// `dense` to rounding.
  case event
}

/// How the input image reaches the network (docs/dynamics.md, "Input encoding").
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

/// Everything that decides how a simulation runs, apart from the network and the data: what
/// `snnsim run` and `snnsim compare` take on their command lines.
public struct SimulationSettings: Sendable, Hashable, Codable {
  /// The T at which accuracy and errors are measured: positive, strictly increasing.
  public var timesteps: [Int]
  /// Images simulated together.
  public var batchSize: Int
  public var update: AffineUpdate
  public var input: InputEncoding

  public init(
    timesteps: [Int] = [1, 2, 4, 8, 16, 32, 64, 128, 256], batchSize: Int = 100,
    update: AffineUpdate = .dense,
    input: InputEncoding = .analog
  ) {
    self.timesteps = timesteps
    self.batchSize = batchSize
    self.update = update
    self.input = input
  }
}

/// Runs a ``SpikingNetwork`` time step by time step; within a step nodes update in topological
/// order, so a change reaches the output in the same step.
public enum Simulator {
  /// Simulates `images` and measures accuracy and approximation error at every T in
  /// `settings.timesteps`.
  ///
  /// Under spike encoding the input becomes a population (named after the input node, reported
  /// first) with λ = the largest pixel magnitude of `images`.
  /// - Parameter progress: (images done, total images, steps done in the current batch).
  /// - Complexity: O(max T × one forward pass) per batch; memory O(batch × neurons), allocated
  ///   once: nothing grows with T but the per-T result rows.
  public static func run(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], settings: SimulationSettings,
    progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> SimulationResult {
    let timesteps = settings.timesteps
    let batchSize = settings.batchSize
    precondition(
      !timesteps.isEmpty && zip(timesteps, timesteps.dropFirst()).allSatisfy { $0 < $1 } && timesteps[0] > 0)
    precondition(batchSize > 0, "batch size must be positive")
    let graph = network.graph
    let adapted = try graph.adaptInput(images)
    let inputScale = adapted.scalars.reduce(Float(0)) { max($0, abs($1)) }
    let lowered = LoweredNetwork(
      network, capacity: min(batchSize, max(labels.count, 1)), update: settings.update,
      encoding: settings.input, inputScale: inputScale)
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
          dynamics: settings.input == .rate ? .subgradient : .signGD, scale: Double(inputScale), op: "input"),
        at: 0)
    }
    let fanOut = reported.map { Self.meanFanOut(of: $0.node, in: graph) }
    let requested = Set(timesteps)
    var correct = [Int](repeating: 0, count: timesteps.count)
    var annCorrect = 0
    var absError = [[Double]](
      repeating: [Double](repeating: 0, count: timesteps.count), count: reported.count)
    var spikes = absError
    var annMagnitude = [Double](repeating: 0, count: reported.count)
    let readout = positions[network.readout]!
    let readoutWidth = graph.nodes[readout].shape.reduce(1, *)

    var start = 0
    while start < labels.count {
      let end = min(start + batchSize, labels.count)
      let batch = adapted.rows(start..<end)
      let batchLabels = Array(labels[start..<end])
      let ann = graph.activations([batch])
      annCorrect += zip(ann[network.readout]!.argmaxLastAxis(), batchLabels).filter { $0 == $1 }.count
      for (k, entry) in reported.enumerated() {
        annMagnitude[k] += ann[entry.node]!.scalars.reduce(0.0) { $0 + Double(abs($1)) }
      }
      lowered.load(input: batch, ann: ann)
      var slot = 0
      for t in 1...timesteps.last! {
        lowered.step()
        if t % 8 == 0 { progress(start, labels.count, t) }
        guard requested.contains(t) else { continue }
        let scores = lowered.estimate(at: readout)
        for (row, label) in batchLabels.enumerated() {
          var best = 0
          var bestValue = -Float.infinity
          for j in 0..<readoutWidth where scores[row * readoutWidth + j] > bestValue {
            bestValue = scores[row * readoutWidth + j]
            best = j
          }
          if best == label { correct[slot] += 1 }
        }
        for (k, entry) in reported.enumerated() {
          let estimate = lowered.estimate(at: entry.position)
          var total = 0.0
          ann[entry.node]!.scalars.withUnsafeBufferPointer { reference in
            for i in 0..<estimate.count { total += Double(abs(estimate[i] - reference[i])) }
          }
          absError[k][slot] += total
          spikes[k][slot] += Double(lowered.populations[entry.position]!.spikeCount) / Double(t)
        }
        slot += 1
      }
      start = end
      progress(end, labels.count, 0)
    }
    let count = Double(labels.count)
    let results = reported.enumerated().map { k, entry -> SimulationResult.PopulationResult in
      let neurons = graph.nodes[entry.position].shape.reduce(1, *)
      let elements = Double(neurons) * count
      let magnitude = max(annMagnitude[k] / elements, 1e-12)
      let rate = spikes[k].map { $0 / elements }
      return SimulationResult.PopulationResult(
        name: entry.node, op: entry.op, dynamics: entry.dynamics, neurons: neurons, scale: entry.scale,
        meanAbsError: absError[k].map { $0 / elements },
        meanRelativeError: absError[k].map { $0 / elements / magnitude },
        spikesPerNeuronPerStep: rate,
        synapticOperations: zip(rate, timesteps).map { $0 * Double($1) * Double(neurons) * fanOut[k] })
    }
    return SimulationResult(
      timesteps: timesteps, accuracy: correct.map { Double($0) / count },
      annAccuracy: Double(annCorrect) / count,
      images: labels.count, populations: results)
  }

  /// ``run(_:images:labels:settings:progress:)`` with the settings spelled out.
  public static func run(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], timesteps: [Int], batchSize: Int = 100,
    update: AffineUpdate = .dense, input: InputEncoding = .analog
  ) throws -> SimulationResult {
    try run(
      network, images: images, labels: labels,
      settings: SimulationSettings(timesteps: timesteps, batchSize: batchSize, update: update, input: input))
  }

  /// A population (or the encoder) whose accuracy and activity are measured.
  private struct Reported {
    let node: String
    let position: Int
    let dynamics: Dynamics
    let scale: Double
    let op: String
  }

  /// The mean number of downstream connections of one neuron of `node`: for every affine node
  /// it feeds (directly or through Flatten/Reshape), how many outputs each input element reaches
  /// on average; a population it feeds directly counts one. A spike costs this many synaptic
  /// operations.
  static func meanFanOut(of node: String, in graph: Graph) -> Double {
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
      switch reader.op {
      case .dense(let units, _): total += Double(units)
      case .conv2d(let a):
        // Every output position reads kH·kW·Cin inputs (fewer at padded borders, counted exactly).
        total +=
          Double(windowReads(a.window(input: inputShape), channels: inputShape.last ?? 1)) * Double(a.filters)
          / inputCount
      case .pool2d(let a):
        total += Double(windowReads(a.window(input: inputShape), channels: inputShape.last ?? 1)) / inputCount
      case .binary, .activation, .add, .concatenate, .batchNorm, .scaleShift, .globalAveragePool2d:
        total += 1
      case .softmax, .layerNorm, .lastAxis:
        total += Double(inputShape.last ?? 1)
      default:
        // Selections (window elements): each output reads one input.
        total += outputCount / max(inputCount, 1)
      }
    }
    return total
  }

  /// How many (input pixel, output position) pairs a sliding window reads, times channels.
  static func windowReads(_ window: Window2D?, channels: Int) -> Int {
    guard let window else { return 0 }
    var reads = 0
    for oh in 0..<window.outputHeight {
      for ow in 0..<window.outputWidth {
        reads += window.inputRows(forOutputRow: oh).count * window.inputColumns(forOutputColumn: ow).count
      }
    }
    return reads * channels
  }
}
