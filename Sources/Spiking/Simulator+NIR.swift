import Dispatch
import Foundation
import Tensor

/// What simulating a NIR graph measured.
public struct NIRSimulationResult: Sendable, Codable {
  /// A node that fires spikes (IF, LIF, CubaLIF, Threshold).
  public struct Population: Sendable, Codable, Equatable {
    public let name: String
    public let type: String
    public let neurons: Int
    /// Spikes per neuron per step over steps 1…T, one per measured T.
    public let spikesPerNeuronPerStep: [Double]
    /// All spikes of all images over steps 1…T, one per measured T.
    public let spikes: [Double]
  }

  public let timesteps: [Int]
  /// The fraction of images whose readout's arg-max is the label, one per measured T.
  public let accuracy: [Double]
  public let images: Int
  public let populations: [Population]
  /// Each image's readout (the Output node's input summed over steps 1…max T), `images ×
  /// readout width`, when asked for.
  public let readout: [Float]?
}

/// Runs NIR graphs with the discrete-time semantics of docs/nir.md on the engine every spiking
/// network runs on (``LoweredNetwork``, the graph lowered by ``LoweringPlan/init(nir:capacity:)``):
/// steps of the graph's `dt` (``NIRGraph/dt``, 1 unless given), forward Euler, every state 0 at
/// the start, the image as input current at every step, nodes in topological order within a
/// step, edges into one node added, the readout the Output node's input summed over the steps.
extension Simulator {
  /// Simulates `images` (`N ×` the Input node's shape, channel-first, flattened) for up to the
  /// largest of `timesteps` steps and measures accuracy and spikes at each.
  ///
  /// Batches go to worker threads, each with its own state; results are summed in batch order,
  /// so they do not depend on the number of threads.
  /// - Parameters:
  ///   - labels: one per image, each less than the readout width.
  ///   - sharding: which batches this process simulates in a job, and how the others' counts
  ///     reach it (``Sharding``); every process returns the whole result, added in batch order.
  ///   - progress: (images done, total images, steps done in the current batch).
  /// - Complexity: O(max T × one pass through the graph) per image; memory O(batch × the
  ///   graph's values), allocated once.
  public static func run(
    _ graph: NIRGraph, images: [Float], labels: [Int], timesteps: [Int], batchSize: Int, threads: Int? = nil,
    keepReadout: Bool = false, sharding: Sharding = .alone, progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> NIRSimulationResult {
    let inputCount = graph.nodes[graph.input].count
    precondition(
      images.count == labels.count * inputCount, "\(images.count) values for \(labels.count) images")
    precondition(
      !timesteps.isEmpty && zip(timesteps, timesteps.dropFirst()).allSatisfy { $0 < $1 } && timesteps[0] > 0)
    precondition(batchSize > 0)
    let plan = BatchPlan(images: labels.count, batchSize: batchSize, sharding: sharding)
    let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, plan.owned.count))
    let capacity = min(batchSize, max(labels.count, 1))
    let states = (0..<workers).map { _ in NIRWorker(graph, capacity: capacity, timesteps: timesteps) }
    let spiking = states[0].spiking
    let measured = try images.withUnsafeBufferPointer { images in
      try plan.run(
        workers: workers, progress: progress,
        simulate: { w, range, tick in
          states[w].simulate(
            UnsafeBufferPointer(
              rebasing: images[(range.lowerBound * inputCount)..<(range.upperBound * inputCount)]),
            labels: Array(labels[range]), progress: tick)
        },
        measures: { w in
          // A batch's counts, in the form every simulation exchanges (no ANN, no errors).
          BatchMeasures(
            annCorrect: 0, correct: states[w].correct, agreed: [], annMagnitude: [], absError: [],
            spikes: states[w].spikeTotals, readoutError: [], readout: keepReadout ? states[w].readoutRows : []
          )
        })
    }
    // Every batch's counts added in batch order, whichever process simulated it.
    var correct = [Int](repeating: 0, count: timesteps.count)
    var spikes = [[Double]](repeating: [Double](repeating: 0, count: timesteps.count), count: spiking.count)
    var readout = keepReadout ? [Float]() : nil
    for batch in measured {
      for k in timesteps.indices { correct[k] += batch.correct[k] }
      for p in spiking.indices {
        for k in timesteps.indices { spikes[p][k] += batch.spikes[p][k] }
      }
      if keepReadout { readout! += batch.readout }
    }
    let count = Double(labels.count)
    let populations = spiking.enumerated().map { p, node in
      NIRSimulationResult.Population(
        name: node.name, type: node.type, neurons: node.count,
        spikesPerNeuronPerStep: zip(spikes[p], timesteps).map { $0 / (count * Double(node.count * $1)) },
        spikes: spikes[p])
    }
    return NIRSimulationResult(
      timesteps: timesteps, accuracy: correct.map { Double($0) / count }, images: labels.count,
      populations: populations, readout: readout)
  }
}

/// One worker's engine for a NIR graph, and the results of its last batch.
private final class NIRWorker: @unchecked Sendable {
  let graph: NIRGraph
  let timesteps: [Int]
  let lowered: LoweredNetwork
  /// The nodes that fire spikes (IF, LIF, CubaLIF, Threshold), in graph order, with their stages.
  let spiking: [NIRGraph.Node]
  private let spikingStages: [Int]
  /// Where the Input's values go in the order the engine stores them (nil: the same order).
  private let inputOrder: [Int]?
  // Results of the last batch.
  var correct: [Int]
  var spikeTotals: [[Double]] = []
  var readoutRows: [Float] = []

  init(_ graph: NIRGraph, capacity: Int, timesteps: [Int]) {
    self.graph = graph
    self.timesteps = timesteps
    lowered = LoweredNetwork(nir: graph, capacity: capacity)
    let nodes = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.name, $0) })
    var spiking = [NIRGraph.Node]()
    var stages = [Int]()
    for (position, stage) in lowered.stages.enumerated() {
      guard case .nir(let neurons) = stage.node.kind, neurons.spikes else { continue }
      spiking.append(nodes[stage.node.name]!)
      stages.append(position)
    }
    self.spiking = spiking
    spikingStages = stages
    let shape = graph.inputShape
    inputOrder = shape.count == 3 ? NIRLowering.channelsLast(shape[0], shape[1], shape[2]) : nil
    correct = [Int](repeating: 0, count: timesteps.count)
  }

  func simulate(_ images: UnsafeBufferPointer<Float>, labels: [Int], progress: ((Int) -> Void)?) {
    let batch = labels.count
    let width = graph.readoutWidth
    let size = graph.nodes[graph.input].count
    var stored = [Float](repeating: 0, count: images.count)
    for image in 0..<batch {
      let base = image * size
      for k in 0..<size { stored[base + k] = images[base + (inputOrder?[k] ?? k)] }
    }
    let input = Tensor(shape: [batch, size], scalars: stored)
    let name = graph.nodes[graph.input].name
    lowered.load(input: input, chunkRows: max(batch, 1)) { _ in [name: input] }
    correct = [Int](repeating: 0, count: timesteps.count)
    spikeTotals = [[Double]](repeating: [Double](repeating: 0, count: timesteps.count), count: spiking.count)
    var running = [Double](repeating: 0, count: spiking.count)
    let readoutPosition = lowered.readoutPosition
    var next = 0
    for t in 1...timesteps.last! {
      lowered.step()
      for (p, position) in spikingStages.enumerated() { running[p] += Double(lowered.stages[position].fired) }
      if t == timesteps[next] {
        for p in spiking.indices { spikeTotals[p][next] = running[p] }
        let readout = lowered.accumulated(at: readoutPosition)!
        for i in 0..<batch {
          var best = 0
          for j in 1..<max(width, 1) where readout[i * width + j] > readout[i * width + best] { best = j }
          if best == labels[i] { correct[next] += 1 }
        }
        next += 1
      }
      progress?(t)
    }
    readoutRows = Array(lowered.accumulated(at: readoutPosition)!)
  }
}

extension NIRGraph {
  /// `images` as the Input node takes them, channel-first and flattened: a batch of
  /// channel-last images `N×H×W×C` whose `C×H×W` (or `H×W×C`, taken as stored) is the Input's
  /// shape, or any batch whose images hold as many values as the Input (read in channel-first
  /// order).
  /// - Throws: ``NIRGraphError`` naming both shapes when the sizes differ.
  public func adapt(images: Tensor<Float>) throws -> [Float] {
    let shape = inputShape
    let perImage = Array(images.shape.dropFirst())
    guard perImage.reduce(1, *) == shape.reduce(1, *) else {
      throw NIRGraphError(
        node: nodes[input].name,
        "the data's images are \(Self.text(perImage)) (\(perImage.reduce(1, *)) values); the Input takes \(Self.text(shape)) (\(shape.reduce(1, *)))"
      )
    }
    // An Input labelled H×W×C takes the images as stored; with one channel both orders agree.
    guard perImage.count == 3, perImage != shape, perImage[2] > 1 else { return images.scalars }
    // Channel-last N×H×W×C to channel-first N×C×H×W.
    return images.permuted([0, 3, 1, 2]).scalars
  }
}
