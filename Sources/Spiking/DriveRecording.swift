import Foundation
import Graph
import Tensor

/// What fed one population at every step of a simulation, kept so that candidates for that
/// population can be tried on it without simulating the network before it again (tuning,
/// docs/dynamics.md, "Tuning for few time steps").
///
/// A population's step reads nothing but its *drive* — the estimate of the node before it, or
/// what it computes from that first (a pooled window, a normalized or softmaxed row), plus the
/// second operand of a two-input target — and its own state. Run on the recorded drive of every
/// step, a candidate goes through exactly the arithmetic it would go through as a copy of the
/// population inside the network, and its error is summed over the same images in the same
/// order as ``Simulator/run(_:images:labels:settings:keepReadout:sharding:progress:)`` sums it:
/// the numbers are the simulator's, bit for bit, at the cost of the population alone.
///
/// Memory: the drive of every recorded step for every image (see ``bytes(images:steps:neurons:operands:)``).
/// Batches are cut as the simulator cuts them; under a ``Sharding`` each process records and
/// replays the batches it owns and the error sums are exchanged.
public final class DriveRecording: @unchecked Sendable {
  /// Floats allocated once and freed with the recording, so that a simulation can read a step
  /// of them in place (``LoweredNetwork/replay(_:)``).
  final class Samples: @unchecked Sendable {
    let values: UnsafeMutableBufferPointer<Float>
    init(count: Int) {
      values = .allocate(capacity: count)
      values.initialize(repeating: 0)
    }
    deinit { values.deallocate() }
    /// Values `offset ..< offset + count`.
    func slice(_ offset: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
      UnsafeMutableBufferPointer(rebasing: values[offset..<(offset + count)])
    }
  }

  /// One batch's recording.
  struct Batch {
    let range: Range<Int>
    /// Steps × images × neurons: the drive, and the second operand where the target has one —
    /// or, once ``keepOutputs(of:)`` ran, what the population sent (`first` alone).
    var first: Samples
    var second: Samples?
    /// Images × neurons: the ANN's activation of the population.
    var reference: [Float]
  }

  /// The population recorded.
  public let population: String
  /// The steps recorded.
  public let steps: Int
  /// The settings and sharding the recording was made with: a replay must cut the same batches.
  let plan: BatchPlan
  private let neurons: Int
  private let workers: Int
  private var batches: [Int: Batch] = [:]
  /// The population's outputs as one spec sent them (``keepOutputs(of:)``), rather than its drive.
  public private(set) var holdsOutputs = false

  /// The bytes a recording of `steps` steps of `images` images keeps for a population of
  /// `neurons` neurons per image whose target reads `operands` inputs.
  public static func bytes(images: Int, steps: Int, neurons: Int, operands: Int) -> Int {
    images * neurons * (steps * operands + 1) * MemoryLayout<Float>.stride
  }

  /// Simulates `network` — whose readout is the population recorded (a network
  /// ``SpikingNetwork/truncated(at:)`` there) — on `images` for `steps` steps, recording the
  /// population's drive; batches, threads, update and input encoding as `settings` says.
  ///
  /// `replaying`: recordings of populations of `network` that hold their outputs
  /// (``keepOutputs(of:)``), made on the same images with the same steps, settings and sharding:
  /// those populations send what was recorded, and the network before them is not simulated —
  /// the drive recorded is the same, bit for bit, at the cost of the part after them
  /// (``LoweredNetwork/replay(_:)``; dense update only).
  /// - Throws: `GraphError` when the images do not fit the network's input.
  public init(
    _ network: SpikingNetwork, images: Tensor<Float>, steps: Int, settings: SimulationSettings,
    sharding: Sharding = .alone, replaying: [DriveRecording] = []
  ) throws {
    precondition(steps >= 1, "a recording needs at least one step")
    let graph = network.graph
    guard let spec = network.populations.first(where: { $0.node == network.readout }) else {
      preconditionFailure("the readout \(network.readout) of a recorded network must be a population")
    }
    population = spec.node
    self.steps = steps
    neurons = graph.node(spec.node)!.shape.reduce(1, *)
    let adapted = try graph.adaptInput(images)
    let count = adapted.shape[0]
    let inputScale = adapted.scalars.reduce(Float(0)) { max($0, abs($1)) }
    let position = graph.nodes.firstIndex { $0.name == spec.node }!
    plan = BatchPlan(images: count, batchSize: settings.batchSize, sharding: sharding)
    workers = max(1, min(settings.threads ?? ProcessInfo.processInfo.activeProcessorCount, plan.owned.count))
    let capacity = min(settings.batchSize, max(count, 1))
    let lowered = (0..<workers).map { _ in
      LoweredNetwork(
        network, capacity: capacity, update: settings.update, encoding: settings.input, inputScale: inputScale
      )
    }
    let neurons = self.neurons
    let operands = spec.target.arity
    let plan = self.plan
    let sources = replaying.map { recording -> (position: Int, recording: DriveRecording) in
      precondition(
        recording.holdsOutputs && recording.steps >= steps && recording.plan.all == plan.all
          && recording.plan.owned == plan.owned, "a replayed recording must hold outputs of the same batches")
      return (graph.nodes.firstIndex { $0.name == recording.population }!, recording)
    }
    var recorded = [Int: Batch]()
    let pending = (0..<workers).map { _ in Slot<Batch>() }
    var done = 0
    inBatchGroups(
      plan.batches, workers: workers, images: plan.batches.reduce(0) { $0 + $1.count },
      progress: { _, _, _ in },
      simulate: { w, range, _ in
        let network = lowered[w]
        let size = range.count * neurons
        let batch = Batch(
          range: range, first: Samples(count: steps * size),
          second: operands == 2 ? Samples(count: steps * size) : nil,
          reference: [Float](repeating: 0, count: size))
        var reference = batch.reference
        let index = plan.all.firstIndex(of: range)!
        network.replay(
          Dictionary(
            uniqueKeysWithValues: sources.map { source in
              let outputs = source.recording.batches[index]!.first
              let count = range.count * source.recording.neurons
              return (
                source.position, { (t: Int) in UnsafeBufferPointer(outputs.slice((t - 1) * count, count)) }
              )
            }))
        let input = adapted.rows(range)
        let whole = range.count <= BatchWorker.referenceRows
        let constants = Set(network.constantNodes)
        network.load(input: input, chunkRows: BatchWorker.referenceRows) { rows in
          let ann = graph.activations(
            [whole ? input : input.rows(rows)], keeping: constants.union([spec.node]))
          let values = ann[spec.node]!.scalars
          reference.replaceSubrange((rows.lowerBound * neurons)..<(rows.upperBound * neurons), with: values)
          return ann
        }
        var step = 0
        network.driveObserver = { at, first, second in
          guard at == position else { return }
          _ = batch.first.slice(step * size, size).update(fromContentsOf: first)
          if let second { _ = batch.second!.slice(step * size, size).update(fromContentsOf: second) }
        }
        while step < steps {
          network.step()
          step += 1
        }
        network.driveObserver = nil
        network.replay([:])
        pending[w].value = Batch(range: range, first: batch.first, second: batch.second, reference: reference)
      },
      combine: { w in
        recorded[plan.owned[done]] = pending[w].value!
        pending[w].value = nil
        done += 1
      })
    batches = recorded
  }

  /// Each candidate's mean absolute error against the ANN's activation, per neuron and image,
  /// summed over the steps `horizons` (each at most ``steps``): what the simulator reports as
  /// the population's `meanAbsError` for a copy of the population set up as the candidate,
  /// added up over those T. A non-finite sum is infinity.
  public func errors(of candidates: [PopulationSpec], at horizons: [Int]) throws -> [Double] {
    let sums = try summed(candidates, at: horizons) { estimate, reference in
      var total = 0.0
      for i in 0..<estimate.count { total += Double(abs(estimate[i] - reference[i])) }
      return [total]
    }
    let elements = Double(neurons) * Double(plan.all.last?.upperBound ?? 0)
    return sums.map { sums in
      let total = sums.map { $0 / elements }.reduce(0, +)
      return total.isFinite ? total : .infinity
    }
  }

  /// The mean error of `spec`'s output at step `horizon` (at most ``steps``), `a − λ·v` (the ANN's
  /// activation minus the estimate as the simulator takes it), per position of the innermost
  /// `width` elements of a sample (`width` divides the population's neurons; the last axis's
  /// size gives one per channel), averaged over the other positions and every image.
  public func meanErrors(of spec: PopulationSpec, at horizon: Int, width: Int) throws -> [Double] {
    precondition(width >= 1 && neurons % width == 0, "\(width) positions for \(neurons) neurons")
    let sums = try summed([spec], at: [horizon]) { estimate, reference in
      var sums = [Double](repeating: 0, count: width)
      for row in stride(from: 0, to: estimate.count, by: width) {
        for j in 0..<width { sums[j] += Double(reference[row + j] - estimate[row + j]) }
      }
      return sums
    }[0]
    let members = Double(neurons / width) * Double(plan.all.last?.upperBound ?? 0)
    return sums.map { $0 / members }
  }

  /// Per candidate, what `measure` gives for each horizon (its values one after another, horizon
  /// by horizon), summed over the batches in index order and exchanged between the processes of
  /// a sharded recording. `measure` reads the candidate's estimate at the horizon (as
  /// ``replay(_:_:neurons:horizons:measure:)`` takes it) and the ANN's activation.
  private func summed(
    _ candidates: [PopulationSpec], at horizons: [Int],
    measure: @escaping @Sendable (UnsafeBufferPointer<Float>, [Float]) -> [Double]
  ) throws -> [[Double]] {
    precondition(
      !horizons.isEmpty && zip(horizons, horizons.dropFirst()).allSatisfy { $0 < $1 } && horizons[0] >= 1
        && horizons.last! <= steps, "horizons must rise within the recorded steps")
    let owned = plan.owned.map { batches[$0]! }
    var measured = [Int: BatchMeasures]()
    let pending = (0..<workers).map { _ in Slot<[[Double]]>() }
    var done = 0
    let neurons = self.neurons
    inBatchGroups(
      owned.map(\.range), workers: workers, images: owned.reduce(0) { $0 + $1.range.count },
      progress: { _, _, _ in },
      simulate: { w, range, _ in
        let batch = owned.first { $0.range == range }!
        pending[w].value = candidates.map {
          Self.replay($0, batch, neurons: neurons, horizons: horizons, measure: measure)
        }
      },
      combine: { w in
        // The sums travel in the absolute-error slot of the measures the shards exchange.
        measured[plan.owned[done]] = BatchMeasures(
          annCorrect: 0, correct: [], agreed: [], annMagnitude: [], absError: pending[w].value!, spikes: [],
          readoutError: [], readout: [])
        pending[w].value = nil
        done += 1
      })
    let every = try plan.sharding.exchange(measured)
    var totals = [[Double]?](repeating: nil, count: candidates.count)
    for index in plan.all.indices {
      guard let batch = every[index] else { throw ShardingError.missingBatch(index) }
      for k in totals.indices {
        totals[k] = totals[k].map { zip($0, batch.absError[k]).map { $0 + $1 } } ?? batch.absError[k]
      }
    }
    return totals.map { $0 ?? [] }
  }

  /// What one worker hands to the combining step (each worker writes only its own).
  private final class Slot<Value>: @unchecked Sendable {
    var value: Value?
  }

  /// Replaces the recorded drive by what the population set up as `spec` sends at every step
  /// when run on it (the simulator's output buffer, bit for bit): the recording can then stand
  /// in for the population and everything before it (``init(_:images:steps:settings:sharding:replaying:)``).
  public func keepOutputs(of spec: PopulationSpec) {
    precondition(
      !holdsOutputs && spec.node == population,
      "outputs of \(spec.node) kept in the recording of \(population)")
    let owned = plan.owned.map { batches[$0]! }
    let (neurons, steps) = (self.neurons, self.steps)
    inBatchGroups(
      owned.map(\.range), workers: workers, images: owned.reduce(0) { $0 + $1.range.count },
      progress: { _, _, _ in },
      simulate: { _, range, _ in
        let batch = owned.first { $0.range == range }!
        let size = range.count * neurons
        Self.run(spec, batch, neurons: neurons, steps: steps) { t, output in
          _ = batch.first.slice((t - 1) * size, size).update(fromContentsOf: output)
        }
      },
      combine: { _ in })
    for index in plan.owned { batches[index]!.second = nil }
    holdsOutputs = true
  }

  /// Runs `spec` on one batch's recorded drive for `steps` steps and hands `body` each step
  /// (from 1) with what the population sent — the arithmetic of the population inside the network.
  private static func run(
    _ spec: PopulationSpec, _ batch: Batch, neurons: Int, steps: Int,
    body: (Int, UnsafeMutableBufferPointer<Float>) -> Void
  ) {
    let size = batch.range.count * neurons
    var population = Population<Float>(spec, count: size)
    let storage = Samples(count: size)
    defer { withExtendedLifetime(storage) {} }
    let output = storage.values
    population.publishInitial(into: output)
    for t in 1...steps {
      let drive = UnsafeBufferPointer(batch.first.slice((t - 1) * size, size))
      if let second = batch.second {
        population.advance(
          first: drive, second: UnsafeBufferPointer(second.slice((t - 1) * size, size)), output: output)
      } else {
        population.advance(first: drive, output: output)
      }
      body(t, output)
    }
  }

  /// One candidate on one batch's recording: per horizon, what `measure` gives for the estimate
  /// taken as the simulator takes it (the value a signGD or rate population publishes, the mean
  /// of what a membrane population sent) and the ANN's activation, one horizon after another.
  private static func replay(
    _ spec: PopulationSpec, _ batch: Batch, neurons: Int, horizons: [Int],
    measure: (UnsafeBufferPointer<Float>, [Float]) -> [Double]
  ) -> [Double] {
    let size = batch.range.count * neurons
    let summed = spec.dynamics.sendsSpikes
    var sum = [Float](repeating: 0, count: summed ? size : 0)
    var mean = sum
    var values = [Double]()
    var next = 0
    run(spec, batch, neurons: neurons, steps: horizons.last!) { t, output in
      if summed { for i in 0..<size { sum[i] += output[i] } }
      guard t == horizons[next] else { return }
      if summed {
        let scale = 1 / Float(t)
        for i in 0..<size { mean[i] = sum[i] * scale }
        values += mean.withUnsafeBufferPointer { measure($0, batch.reference) }
      } else {
        values += measure(UnsafeBufferPointer(output), batch.reference)
      }
      next += 1
    }
    return values
  }
}
