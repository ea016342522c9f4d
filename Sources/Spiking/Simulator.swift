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

/// How affine nodes follow their inputs during simulation (DYNAMICS.md §3).
public enum Engine: String, Sendable, Hashable, Codable, CaseIterable {
  /// Recompute `x̂ = A(v)` from the current input estimates at every step.
  case dense
  /// Accumulate: `x̂_t = x̂_{t−1} + L(v_t − v_{t−1})` with `L` the linear part of `A`, starting
  /// from `A` of the initial estimates — what a receiver of signed steps does. Agrees with
  /// `dense` to rounding.
  case event
}

/// Runs a ``SpikingNetwork`` time step by time step; within a step nodes update in topological
/// order, so a change reaches the output in the same step.
public enum Simulator {
  /// Simulates `images` and measures accuracy and approximation error at every T in `timesteps`.
  /// - Parameters:
  ///   - timesteps: strictly increasing, positive.
  ///   - input: how the image is delivered; under spike encoding the input becomes a population
  ///     (named after the input node, reported with the others) with λ = the largest pixel
  ///     magnitude of `images`.
  ///   - progress: (images done, total images, steps done in the current batch).
  /// - Complexity: O(max T × one forward pass) per batch; memory O(batch × neurons), allocated
  ///   once: nothing grows with T but the per-T result rows.
  public static func run(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], timesteps: [Int], batchSize: Int = 100,
    engine: Engine = .dense, input: InputEncoding = .analog,
    progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> SimulationResult {
    precondition(
      !timesteps.isEmpty && zip(timesteps, timesteps.dropFirst()).allSatisfy { $0 < $1 } && timesteps[0] > 0)
    let graph = network.graph
    let adapted = try graph.adaptInput(images)
    let inputScale = adapted.scalars.reduce(Float(0)) { max($0, abs($1)) }
    let simulation = SimulationEngine(
      network, capacity: min(batchSize, max(labels.count, 1)), engine: engine, encoding: input,
      inputScale: inputScale)
    let inputNode = graph.inputNodes[0]
    // What is reported: the encoder (if any), then every population in node order.
    var reported = network.populations.map {
      (node: $0.node, dynamics: $0.dynamics, scale: $0.scale, op: graph.node($0.node)!.op.functionName)
    }
    if input != .analog {
      reported.insert(
        (
          node: inputNode.name, dynamics: input == .rate ? Dynamics.subgradient : .signGD,
          scale: Double(inputScale), op: "input"
        ), at: 0)
    }
    let fanOut = Dictionary(
      uniqueKeysWithValues: reported.map { ($0.node, Self.meanFanOut(of: $0.node, in: graph)) })
    let requested = Set(timesteps)
    var correct = [Int](repeating: 0, count: timesteps.count)
    var annCorrect = 0
    var absError = [String: [Double]]()
    var annMagnitude = [String: Double]()
    var spikes = [String: [Double]]()
    for entry in reported {
      absError[entry.node] = [Double](repeating: 0, count: timesteps.count)
      spikes[entry.node] = [Double](repeating: 0, count: timesteps.count)
    }
    let positions = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
    let readoutWidth = graph.node(network.readout)!.shape.reduce(1, *)

    var start = 0
    while start < labels.count {
      let end = min(start + batchSize, labels.count)
      let batch = adapted.rows(start..<end)
      let batchLabels = Array(labels[start..<end])
      let ann = graph.activations([batch])
      annCorrect += zip(ann[network.readout]!.argmaxLastAxis(), batchLabels).filter { $0 == $1 }.count
      for entry in reported {
        annMagnitude[entry.node, default: 0] += ann[entry.node]!.scalars.reduce(0.0) { $0 + Double(abs($1)) }
      }
      simulation.load(input: batch, ann: ann)
      var slot = 0
      for t in 1...timesteps.last! {
        simulation.step()
        if t % 8 == 0 { progress(start, labels.count, t) }
        guard requested.contains(t) else { continue }
        let readout = simulation.estimate(network.readout)
        for (row, label) in batchLabels.enumerated() {
          var best = 0
          var bestValue = -Float.infinity
          for j in 0..<readoutWidth where readout[row * readoutWidth + j] > bestValue {
            bestValue = readout[row * readoutWidth + j]
            best = j
          }
          if best == label { correct[slot] += 1 }
        }
        for entry in reported {
          let estimate = simulation.estimate(entry.node)
          var total = 0.0
          ann[entry.node]!.scalars.withUnsafeBufferPointer { reference in
            for i in 0..<estimate.count { total += Double(abs(estimate[i] - reference[i])) }
          }
          absError[entry.node]![slot] += total
          spikes[entry.node]![slot] +=
            Double(simulation.populations[positions[entry.node]!]!.spikeCount) / Double(t)
        }
        slot += 1
      }
      start = end
      progress(end, labels.count, 0)
    }
    let count = Double(labels.count)
    let results = reported.map { entry -> SimulationResult.PopulationResult in
      let neurons = graph.node(entry.node)!.shape.reduce(1, *)
      let elements = Double(neurons) * count
      let magnitude = max(annMagnitude[entry.node]! / elements, 1e-12)
      let rate = spikes[entry.node]!.map { $0 / elements }
      return SimulationResult.PopulationResult(
        name: entry.node, op: entry.op, dynamics: entry.dynamics, neurons: neurons, scale: entry.scale,
        meanAbsError: absError[entry.node]!.map { $0 / elements },
        meanRelativeError: absError[entry.node]!.map { $0 / elements / magnitude },
        spikesPerNeuronPerStep: rate,
        synapticOperations: zip(rate, timesteps).map {
          $0 * Double($1) * Double(neurons) * fanOut[entry.node]!
        })
    }
    return SimulationResult(
      timesteps: timesteps, accuracy: correct.map { Double($0) / count },
      annAccuracy: Double(annCorrect) / count,
      images: labels.count, populations: results)
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
