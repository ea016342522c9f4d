import Foundation
import Graph
import Tensor

/// A population (or the encoder) whose accuracy and activity are measured.
struct Reported: Sendable {
  let node: String
  let position: Int
  let dynamics: Dynamics
  let scale: Double
  let op: String
}

/// One worker thread of a simulation: its lowered network and what it measured on the last
/// batch it simulated (the processes of a job share batches through ``Sharding``).
final class BatchWorker: @unchecked Sendable {
  let lowered: LoweredNetwork
  let reported: [Reported]
  let timesteps: [Int]
  let readout: Int
  let keepReadout: Bool
  /// Images the ANN and, per measured T, the network got right.
  private(set) var annCorrect = 0
  private(set) var correct = [Int]()
  private(set) var agreed = [Int]()
  /// Per reported population: `Σ |a|` over the batch; per population and T: `Σ |λ·v − a|`
  /// (each a running Double sum in index order) and spikes divided by T.
  private(set) var annMagnitude = [Double]()
  private(set) var absError = [[Double]]()
  private(set) var spikes = [[Double]]()
  /// Per T: `Σ |readout − ANN readout|` over the batch.
  private(set) var readoutError = [Double]()
  /// The batch's readout at the largest T (when kept).
  private(set) var finalReadout = [Float]()
  /// The time of every batch this worker simulated: its ANN reference pass and its steps.
  private(set) var cost = StepCost()

  /// What the last batch measured.
  var measures: BatchMeasures {
    BatchMeasures(
      annCorrect: annCorrect, correct: correct, agreed: agreed, annMagnitude: annMagnitude,
      absError: absError,
      spikes: spikes,
      readoutError: readoutError, readout: finalReadout)
  }

  init(_ lowered: LoweredNetwork, reported: [Reported], timesteps: [Int], readout: Int, keepReadout: Bool) {
    self.keepReadout = keepReadout
    self.lowered = lowered
    self.reported = reported
    self.timesteps = timesteps
    self.readout = readout
  }

  /// The ANN reference is computed in chunks of this many images. A batch of at most one chunk
  /// keeps its reference for the whole simulation; a larger one recomputes it, chunk by chunk,
  /// at every measured T instead of holding it for the whole batch (at batch 1,000 the decomposed
  /// CNN's reference alone is 365 MB). Either way each image's reference is computed the same
  /// way, so the measures do not depend on the batch size through it.
  static let referenceRows = 100

  /// Simulates one batch for every step up to the largest T, recording the measures.
  /// - Parameter progress: called every eighth step with the step.
  func simulate(_ graph: Graph, images input: Tensor<Float>, labels: [Int], progress: ((Int) -> Void)?) {
    let readoutName = graph.nodes[readout].name
    let rows = labels.count
    let chunks = stride(from: 0, to: rows, by: Self.referenceRows).map {
      $0..<min($0 + Self.referenceRows, rows)
    }
    let reportedNodes = Set(reported.map(\.node))
    func reference(_ range: Range<Int>, keeping kept: Set<String>) -> [String: Tensor<Float>] {
      graph.activations([chunks.count == 1 ? input : input.rows(range)], keeping: kept)
    }
    annCorrect = 0
    annMagnitude = reported.map { _ in 0 }
    correct = []
    agreed = []
    var annPredictions = [Int]()
    absError = reported.map { _ in [] }
    spikes = reported.map { _ in [] }
    readoutError = []
    finalReadout = []
    var kept: [String: Tensor<Float>]?
    var annSeconds = 0.0
    lowered.load(input: input, chunkRows: Self.referenceRows) { range in
      let started = monotonicSeconds()
      let ann = reference(
        range, keeping: Set(lowered.constantNodes).union(reportedNodes).union([readoutName]))
      annSeconds += monotonicSeconds() - started
      let predicted = ann[readoutName]!.argmaxLastAxis()
      annPredictions += predicted
      annCorrect += zip(predicted, labels[range]).filter { $0 == $1 }.count
      for (k, entry) in reported.enumerated() {
        annMagnitude[k] = ann[entry.node]!.scalars.reduce(annMagnitude[k]) { $0 + Double(abs($1)) }
      }
      if chunks.count == 1 { kept = ann }
      return ann
    }
    let readoutWidth = graph.nodes[readout].shape.reduce(1, *)
    let requested = Set(timesteps)
    var stepSeconds = 0.0
    defer {
      cost.add(
        StepCost(
          annForwardSeconds: annSeconds, stepSeconds: stepSeconds, steps: timesteps.last!, images: rows))
    }
    for t in 1...timesteps.last! {
      let started = monotonicSeconds()
      lowered.step()
      stepSeconds += monotonicSeconds() - started
      if t % 8 == 0 { progress?(t) }
      guard requested.contains(t) else { continue }
      let scores = lowered.estimate(at: readout)
      var hits = 0
      var same = 0
      for (row, label) in labels.enumerated() {
        var best = 0
        var bestValue = -Float.infinity
        for j in 0..<readoutWidth where scores[row * readoutWidth + j] > bestValue {
          bestValue = scores[row * readoutWidth + j]
          best = j
        }
        if best == label { hits += 1 }
        if best == annPredictions[row] { same += 1 }
      }
      correct.append(hits)
      agreed.append(same)
      // Σ |λ·v − a| per population, each a running sum in index order over the batch.
      var totals = reported.map { _ in 0.0 }
      var readoutTotal = 0.0
      for range in chunks {
        let ann = kept ?? reference(range, keeping: reportedNodes.union([readoutName]))
        ann[readoutName]!.scalars.withUnsafeBufferPointer { reference in
          let offset = range.lowerBound * readoutWidth
          for i in 0..<reference.count { readoutTotal += Double(abs(scores[offset + i] - reference[i])) }
        }
        for (k, entry) in reported.enumerated() {
          let size = graph.nodes[entry.position].shape.reduce(1, *)
          let estimate = lowered.estimate(at: entry.position)
          let offset = range.lowerBound * size
          var total = totals[k]
          ann[entry.node]!.scalars.withUnsafeBufferPointer { reference in
            for i in 0..<reference.count { total += Double(abs(estimate[offset + i] - reference[i])) }
          }
          totals[k] = total
        }
      }
      readoutError.append(readoutTotal)
      if keepReadout && t == timesteps.last! {
        finalReadout = Array(lowered.accumulated(at: readout) ?? scores)
      }
      for (k, entry) in reported.enumerated() {
        absError[k].append(totals[k])
        spikes[k].append(Double(lowered.population(at: entry.position)!.spikeCount) / Double(t))
      }
    }
  }
}

/// The measures of a whole run: each batch's added in batch order.
struct Totals {
  var annCorrect = 0
  var correct: [Int]
  var agreed: [Int]
  var annMagnitude: [Double]
  var absError: [[Double]]
  var spikes: [[Double]]
  var readoutError: [Double]
  var readout = [Float]()

  init(reported: Int, timesteps: Int) {
    correct = [Int](repeating: 0, count: timesteps)
    agreed = correct
    readoutError = [Double](repeating: 0, count: timesteps)
    annMagnitude = [Double](repeating: 0, count: reported)
    absError = [[Double]](repeating: [Double](repeating: 0, count: timesteps), count: reported)
    spikes = absError
  }

  /// Adds the measures of one batch.
  mutating func add(_ batch: BatchMeasures) {
    annCorrect += batch.annCorrect
    readout += batch.readout
    for slot in correct.indices {
      correct[slot] += batch.correct[slot]
      agreed[slot] += batch.agreed[slot]
      readoutError[slot] += batch.readoutError[slot]
    }
    for k in annMagnitude.indices {
      annMagnitude[k] += batch.annMagnitude[k]
      for slot in correct.indices {
        absError[k][slot] += batch.absError[k][slot]
        spikes[k][slot] += batch.spikes[k][slot]
      }
    }
  }
}
