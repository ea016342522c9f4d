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
  /// One batch's recording.
  struct Batch {
    let range: Range<Int>
    /// Steps × images × neurons: the drive, and the second operand where the target has one.
    var first: [Float]
    var second: [Float]?
    /// Images × neurons: the ANN's activation of the population.
    var reference: [Float]
  }

  /// The population recorded.
  public let population: String
  /// The steps recorded.
  public let steps: Int
  private let neurons: Int
  private let plan: BatchPlan
  private let workers: Int
  private var batches: [Int: Batch] = [:]

  /// The bytes a recording of `steps` steps of `images` images keeps for a population of
  /// `neurons` neurons per image whose target reads `operands` inputs.
  public static func bytes(images: Int, steps: Int, neurons: Int, operands: Int) -> Int {
    images * neurons * (steps * operands + 1) * MemoryLayout<Float>.stride
  }

  /// Simulates `network` — whose readout is the population recorded (a network
  /// ``SpikingNetwork/truncated(at:)`` there) — on `images` for `steps` steps, recording the
  /// population's drive; batches, threads, update and input encoding as `settings` says.
  /// - Throws: `GraphError` when the images do not fit the network's input.
  public init(
    _ network: SpikingNetwork, images: Tensor<Float>, steps: Int, settings: SimulationSettings,
    sharding: Sharding = .alone
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
    var recorded = [Int: Batch]()
    let pending = (0..<workers).map { _ in Slot<Batch>() }
    var done = 0
    inBatchGroups(
      plan.batches, workers: workers, images: plan.batches.reduce(0) { $0 + $1.count },
      progress: { _, _, _ in },
      simulate: { w, range, _ in
        let network = lowered[w]
        let size = range.count * neurons
        var batch = Batch(
          range: range, first: [Float](repeating: 0, count: steps * size),
          second: operands == 2 ? [Float](repeating: 0, count: steps * size) : nil,
          reference: [Float](repeating: 0, count: size))
        let input = adapted.rows(range)
        let whole = range.count <= Shard.referenceRows
        let constants = Set(network.constantNodes)
        network.load(input: input, chunkRows: Shard.referenceRows) { rows in
          let ann = graph.activations(
            [whole ? input : input.rows(rows)], keeping: constants.union([spec.node]))
          let values = ann[spec.node]!.scalars
          batch.reference.replaceSubrange(
            (rows.lowerBound * neurons)..<(rows.upperBound * neurons), with: values)
          return ann
        }
        var step = 0
        network.driveObserver = { at, first, second in
          guard at == position else { return }
          let offset = step * size
          batch.first.withUnsafeMutableBufferPointer {
            _ = UnsafeMutableBufferPointer(rebasing: $0[offset..<(offset + size)]).update(
              fromContentsOf: first)
          }
          if let second {
            batch.second!.withUnsafeMutableBufferPointer {
              _ = UnsafeMutableBufferPointer(rebasing: $0[offset..<(offset + size)]).update(
                fromContentsOf: second)
            }
          }
        }
        while step < steps {
          network.step()
          step += 1
        }
        network.driveObserver = nil
        pending[w].value = batch
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
        pending[w].value = candidates.map { Self.replay($0, batch, neurons: neurons, horizons: horizons) }
      },
      combine: { w in
        measured[plan.owned[done]] = BatchMeasures(
          annCorrect: 0, correct: [], agreed: [], annMagnitude: [], absError: pending[w].value!, spikes: [],
          readoutError: [], readout: [])
        pending[w].value = nil
        done += 1
      })
    let every = try plan.sharding.exchange(measured)
    var totals = candidates.map { _ in [Double](repeating: 0, count: horizons.count) }
    for index in plan.all.indices {
      guard let batch = every[index] else { throw ShardingError.missingBatch(index) }
      for k in totals.indices {
        for slot in horizons.indices { totals[k][slot] += batch.absError[k][slot] }
      }
    }
    let elements = Double(neurons) * Double(plan.all.last?.upperBound ?? 0)
    return totals.map { sums in
      let total = sums.map { $0 / elements }.reduce(0, +)
      return total.isFinite ? total : .infinity
    }
  }

  /// What one worker hands to the combining step (each worker writes only its own).
  private final class Slot<Value>: @unchecked Sendable {
    var value: Value?
  }

  /// One candidate on one batch's recording: per horizon, `Σ |λ·v − a|` over the batch in
  /// index order, the estimate taken as the simulator takes it (the value a signGD or rate
  /// population publishes, the mean of what a membrane population sent).
  private static func replay(
    _ spec: PopulationSpec, _ batch: Batch, neurons: Int, horizons: [Int]
  ) -> [Double] {
    let size = batch.range.count * neurons
    var population = Population<Float>(
      dynamics: spec.dynamics, schedule: spec.schedule, target: spec.target,
      scales: spec.scales.map(Float.init), initial: spec.initial.map(Float.init), count: size,
      reset: spec.reset, leak: spec.leak)
    let summed = spec.dynamics.sendsSpikes
    var output = [Float](repeating: 0, count: size)
    var sum = [Float](repeating: 0, count: summed ? size : 0)
    var mean = sum
    output.withUnsafeMutableBufferPointer { population.publishInitial(into: $0) }
    var errors = [Double]()
    var next = 0
    for t in 1...horizons.last! {
      let offset = (t - 1) * size
      batch.first.withUnsafeBufferPointer { first in
        output.withUnsafeMutableBufferPointer { out in
          let drive = UnsafeBufferPointer(rebasing: first[offset..<(offset + size)])
          if let second = batch.second {
            second.withUnsafeBufferPointer {
              population.advance(
                first: drive, second: UnsafeBufferPointer(rebasing: $0[offset..<(offset + size)]), output: out
              )
            }
          } else {
            population.advance(first: drive, output: out)
          }
        }
      }
      if summed { for i in 0..<size { sum[i] += output[i] } }
      guard t == horizons[next] else { continue }
      if summed {
        let scale = 1 / Float(t)
        for i in 0..<size { mean[i] = sum[i] * scale }
      }
      var total = 0.0
      (summed ? mean : output).withUnsafeBufferPointer { estimate in
        for i in 0..<size { total += Double(abs(estimate[i] - batch.reference[i])) }
      }
      errors.append(total)
      next += 1
    }
    return errors
  }
}
