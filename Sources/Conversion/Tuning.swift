import Foundation
import Graph
import Spiking
import Tensor

/// Tuning a converted network for simulation at a given number of time steps T
/// (docs/dynamics.md, "Tuning for few time steps").
///
/// Population by population in node order, each choice is measured by simulating the part of
/// the network the population depends on, on calibration images, with the populations before it
/// already tuned; the population keeps the candidate with the smallest mean absolute error of its
/// output against the ANN's, summed over T and 2T (so that a choice good at T still holds when the
/// network runs longer). The candidates:
///
/// 1. the initial estimate `v_0`: 0, or the population's mean calibrated output per group of
///    neurons sharing a scale (in units of λ);
/// 2. for signGD, the geometric schedule's `(η₀, γ)` from a grid around the defaults;
/// 3. the scale λ, shrunk by a factor: a smaller λ spends the neuron's resolution on the
///    activations that occur at the price of clipping the largest ones.
///
/// Only the calibration images given are read: tuning never sees test data.
public enum Tuning {
  /// What tuning chose for one population, and the error it measured before and after.
  public struct Choice: Sendable, Hashable, Codable {
    public let population: String
    public let schedule: StepSchedule
    /// Whether `v_0` is the calibrated mean (else 0).
    public let startsAtMean: Bool
    /// The factor the scales were multiplied by.
    public let scaleFactor: Double
    /// The population's mean absolute error at T plus at 2T, with the conversion's defaults and
    /// as tuned (upstream populations tuned in both).
    public let errorBefore: Double
    public let errorAfter: Double
  }

  /// The tuned network and what was chosen.
  public struct Outcome: Sendable {
    public let network: SpikingNetwork
    public let choices: [Choice]
    /// Simulations run.
    public let simulations: Int
  }

  /// The η₀ and γ tried for signGD populations.
  public static let eta0Grid = [0.1, 0.2, 0.35, 0.5, 0.7]
  public static let gammaGrid = [0.75, 0.85, 0.95]
  /// The factors λ is multiplied by.
  public static let scaleFactors = [1.0, 0.8, 0.6, 0.4]

  /// Tunes `network` for `timesteps` steps on `images` (calibration images, never test data).
  /// - Parameters:
  ///   - threads: worker threads for the simulations (nil: every core).
  ///   - progress: (populations done, populations in all).
  /// - Throws: `GraphError` when the images do not fit the network's input.
  public static func tune(
    _ network: SpikingNetwork, images: Tensor<Float>, timesteps: Int, threads: Int? = nil,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> Outcome {
    precondition(timesteps >= 1, "tuning needs T ≥ 1")
    let adapted = try network.graph.adaptInput(images)
    let count = adapted.shape[0]
    let workers = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
    let settings = SimulationSettings(
      timesteps: [timesteps, 2 * timesteps], batchSize: max(1, (count + workers - 1) / workers),
      threads: threads)
    let means = meanOutputs(network, adapted)
    var populations = network.populations
    var choices = [Choice]()
    var simulations = 0
    for (index, original) in network.populations.enumerated() {
      progress(index, network.populations.count)
      // The part of the network up to this population, with the populations before it tuned.
      let part = try network.replacing(populations: populations).truncated(at: original.node)
      func error(_ spec: PopulationSpec) throws -> Double {
        simulations += 1
        let candidate = try part.replacing(
          populations: part.populations.map { $0.node == spec.node ? spec : $0 })
        let result = try Simulator.run(
          candidate, images: adapted, labels: [Int](repeating: 0, count: count), settings: settings)
        let measured = result.populations.first { $0.name == spec.node }!
        let total = measured.meanAbsError.reduce(0, +)
        return total.isFinite ? total : .infinity
      }
      var best = original
      var bestError = try error(original)
      let before = bestError
      var startsAtMean = false
      var factor = 1.0
      func consider(_ spec: PopulationSpec) throws -> Bool {
        let value = try error(spec)
        guard value < bestError else { return false }
        best = spec
        bestError = value
        return true
      }
      let mean = means[original.node]!
      if mean.contains(where: { $0 != 0 }), try consider(original.with(initial: mean)) { startsAtMean = true }
      if original.dynamics == .signGD {
        for eta0 in eta0Grid {
          for gamma in gammaGrid where best.schedule != .geometric(eta0: eta0, gamma: gamma) {
            _ = try consider(best.with(schedule: .geometric(eta0: eta0, gamma: gamma)))
          }
        }
      }
      let chosen = best
      for candidate in scaleFactors.dropFirst() {
        let scaled = chosen.with(
          scales: chosen.scales.map { max($0 * candidate, Calibration.smallestScale) },
          initial: chosen.initial.count == chosen.scales.count
            ? zip(chosen.initial, chosen.scales).map {
              $0 * $1 / max($1 * candidate, Calibration.smallestScale)
            }
            : chosen.initial.map { $0 / candidate })
        if try consider(scaled) { factor = candidate }
      }
      populations[index] = best
      choices.append(
        Choice(
          population: original.node, schedule: best.schedule, startsAtMean: startsAtMean, scaleFactor: factor,
          errorBefore: before, errorAfter: bestError))
    }
    progress(network.populations.count, network.populations.count)
    return Outcome(
      network: try network.replacing(populations: populations, targetTimesteps: timesteps), choices: choices,
      simulations: simulations)
  }

  /// Per population, the ANN's mean output over `images` per group of neurons sharing a scale,
  /// divided by that scale: the start `v_0` that is right on average.
  static func meanOutputs(_ network: SpikingNetwork, _ images: Tensor<Float>) -> [String: [Double]] {
    var sums = [String: [Double]]()
    let wanted = Set(network.populations.map(\.node))
    let count = images.shape[0]
    for start in stride(from: 0, to: count, by: 100) {
      let values = network.graph.activations(
        [images.rows(start..<min(start + 100, count))], keeping: wanted)
      for spec in network.populations {
        let groups = spec.scales.count
        var sum = sums[spec.node] ?? [Double](repeating: 0, count: groups)
        for (i, value) in values[spec.node]!.scalars.enumerated() { sum[i % groups] += Double(value) }
        sums[spec.node] = sum
      }
    }
    var means = [String: [Double]]()
    for spec in network.populations {
      let neurons = Double(network.graph.node(spec.node)!.shape.reduce(1, *) / spec.scales.count)
      means[spec.node] = zip(sums[spec.node]!, spec.scales).map { $0 / (Double(count) * neurons) / $1 }
    }
    return means
  }
}
