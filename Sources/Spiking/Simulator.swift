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
///
/// Input is analog: the image is delivered unchanged at every step, so nodes that depend only on
/// the input are computed once per batch.
public enum Simulator {
  /// Simulates `images` and measures accuracy and approximation error at every T in `timesteps`.
  /// - Parameters:
  ///   - timesteps: strictly increasing, positive.
  ///   - progress: (images done, total images).
  /// - Complexity: O(max T × one forward pass) per batch; memory O(batch × neurons).
  public static func run(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], timesteps: [Int], batchSize: Int = 100,
    engine: Engine = .dense, progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> SimulationResult {
    precondition(
      !timesteps.isEmpty && zip(timesteps, timesteps.dropFirst()).allSatisfy { $0 < $1 } && timesteps[0] > 0)
    let graph = network.graph
    let adapted = try graph.adaptInput(images)
    let specs = Dictionary(uniqueKeysWithValues: network.populations.map { ($0.node, $0) })
    let requested = Set(timesteps)
    var correct = [Int](repeating: 0, count: timesteps.count)
    var annCorrect = 0
    var absError = [String: [Double]]()
    var annMagnitude = [String: Double]()
    var spikes = [String: [Double]]()
    for spec in network.populations {
      absError[spec.node] = [Double](repeating: 0, count: timesteps.count)
      spikes[spec.node] = [Double](repeating: 0, count: timesteps.count)
    }
    // Nodes computed once per batch: the input and every affine node fed only by such nodes.
    var constant = Set<String>()
    for node in graph.nodes where specs[node.name] == nil && node.inputs.allSatisfy({ constant.contains($0) })
    {
      constant.insert(node.name)
    }

    var start = 0
    while start < labels.count {
      let end = min(start + batchSize, labels.count)
      let batch = adapted.rows(start..<end)
      let batchLabels = Array(labels[start..<end])
      let ann = graph.activations([batch])
      annCorrect += zip(ann[network.readout]!.argmaxLastAxis(), batchLabels).filter { $0 == $1 }.count
      for spec in network.populations {
        annMagnitude[spec.node, default: 0] += ann[spec.node]!.scalars.reduce(0.0) { $0 + Double(abs($1)) }
      }

      var populations = [String: Population<Float>]()
      var estimates = [String: Tensor<Float>]()
      for node in graph.nodes {
        if let spec = specs[node.name] {
          populations[node.name] = Population(
            dynamics: spec.dynamics, schedule: spec.schedule, target: spec.target, scale: Float(spec.scale),
            count: ann[node.name]!.count)
          estimates[node.name] = Tensor(zeros: ann[node.name]!.shape)
        } else if constant.contains(node.name) {
          estimates[node.name] = ann[node.name]!
        } else {
          // The estimate of an affine node before any spike: its map of the initial estimates.
          estimates[node.name] = node.op.apply(
            node.inputs.map { estimates[$0]! }, parameters: node.parameters)
        }
      }
      var previous = estimates
      var slot = 0
      for t in 1...timesteps.last! {
        for node in graph.nodes where !constant.contains(node.name) {
          let inputs = node.inputs.map { estimates[$0]! }
          if specs[node.name] != nil {
            // An elementwise population reads its input estimate; a fused one (max pooling,
            // LayerNorm, softmax) reads the composite op applied to its input estimates.
            let drive: Tensor<Float>
            if case .activation = node.op {
              drive = inputs[0]
            } else {
              drive = node.op.apply(inputs, parameters: node.parameters)
            }
            // Taken out of the dictionary so that updating it in place does not copy it.
            var output = estimates.removeValue(forKey: node.name)!
            drive.scalars.withUnsafeBufferPointer { x in
              output.withUnsafeMutableScalars { populations[node.name]!.advance(first: x, output: $0) }
            }
            estimates[node.name] = output
          } else if engine == .dense {
            estimates[node.name] = node.op.apply(inputs, parameters: node.parameters)
          } else {
            let changes = node.inputs.map { estimates[$0]! - previous[$0]! }
            estimates[node.name] =
              estimates[node.name]! + node.op.applyLinear(changes, parameters: node.parameters)
          }
        }
        if engine == .event { previous = estimates }
        guard requested.contains(t) else { continue }
        correct[slot] +=
          zip(estimates[network.readout]!.argmaxLastAxis(), batchLabels).filter { $0 == $1 }.count
        for spec in network.populations {
          let estimate = estimates[spec.node]!.scalars
          let reference = ann[spec.node]!.scalars
          var total = 0.0
          for i in estimate.indices { total += Double(abs(estimate[i] - reference[i])) }
          absError[spec.node]![slot] += total
          spikes[spec.node]![slot] += Double(populations[spec.node]!.spikeCount) / Double(t)
        }
        slot += 1
      }
      start = end
      progress(end, labels.count)
    }
    let count = Double(labels.count)
    let results = network.populations.map { spec -> SimulationResult.PopulationResult in
      let neurons = graph.node(spec.node)!.shape.reduce(1, *)
      let elements = Double(neurons) * count
      let magnitude = max(annMagnitude[spec.node]! / elements, 1e-12)
      return SimulationResult.PopulationResult(
        name: spec.node, op: graph.node(spec.node)!.op.functionName, dynamics: spec.dynamics,
        neurons: neurons,
        scale: spec.scale, meanAbsError: absError[spec.node]!.map { $0 / elements },
        meanRelativeError: absError[spec.node]!.map { $0 / elements / magnitude },
        spikesPerNeuronPerStep: spikes[spec.node]!.map { $0 / elements })
    }
    return SimulationResult(
      timesteps: timesteps, accuracy: correct.map { Double($0) / count },
      annAccuracy: Double(annCorrect) / count,
      images: labels.count, populations: results)
  }
}
