import Graph
import Spiking
import Tensor

/// A population that a conversion produced but that is unlikely to approximate its op well, found
/// from the ANN's outputs on calibration images (docs/spiking.md, "Warnings").
public struct ConversionWarning: Sendable, Hashable, CustomStringConvertible {
  public enum Kind: Sendable, Hashable {
    /// Integrate-and-fire neurons (range `[0, λ]`) on outputs that go below zero: `lost` is the
    /// share of the outputs' total magnitude that lies below zero, `lowest` the most negative
    /// output.
    case negativeOutputsUnderIF(lost: Double, lowest: Double)
    /// Scales far above the outputs they cover: on average an output is `1/ratio` of its λ, so
    /// the neurons resolve it only after about `ratio` steps.
    case scaleFarAboveOutputs(ratio: Double)
    /// Simulated on a few calibration images, the signGD population's mean relative error is
    /// still `relativeError` after `timesteps` steps, where a converging one is within a
    /// thousandth: its neurons walked out of reach while the estimates feeding them settled.
    case notConverging(relativeError: Double, timesteps: Int, images: Int)
    /// Simulated on a few calibration images, the network gives one answer to `share` of them
    /// where its ANN's commonest answer covers `annShare`: its readout (the warning's population)
    /// has collapsed.
    case collapsedReadout(share: Double, annShare: Double, agreement: Double, timesteps: Int, images: Int)
  }

  /// The population's node.
  public let population: String
  /// The op its neurons approximate (`relu`, `exponential`, `max` …).
  public let function: String
  public let kind: Kind

  public init(population: String, function: String, kind: Kind) {
    self.population = population
    self.function = function
    self.kind = kind
  }

  public var description: String {
    let subject = "population '\(population)' (\(function))"
    switch kind {
    case .negativeOutputsUnderIF(let lost, let lowest):
      return
        "\(subject): \(Self.percent(lost)) of its outputs' magnitude is below 0 (down to \(String(format: "%.4g", lowest))), which integrate-and-fire neurons cannot emit; --signed or --dynamics signgd cover it"
    case .scaleFarAboveOutputs(let ratio):
      return
        "\(subject): its outputs average 1/\(String(format: "%.3g", ratio)) of their scale λ, so its neurons need about that many steps to resolve them"
    case .notConverging(let error, let timesteps, let images):
      return
        "\(subject): still \(Self.percent(error)) off its ANN outputs after \(timesteps) steps on \(images) calibration images; its neurons ran out of step while the populations before them settled, and the network may disagree with its ANN at any T; --schedule adaptive gives each neuron a step of its own"
    case .collapsedReadout(let share, let annShare, let agreement, let timesteps, let images):
      return
        "readout '\(population)' (\(function)): after \(timesteps) steps on \(images) calibration images the network gives one answer to \(Self.percent(share)) of them, where its ANN's commonest answer covers \(Self.percent(annShare)) (they agree on \(Self.percent(agreement))); expect it to answer one class whatever the input — other dynamics or normalization may not collapse"
    }
  }

  public static func percent(_ share: Double) -> String {
    share < 0.001 ? "under 0.1 %" : String(format: "%.1f %%", share * 100)
  }

  /// The share of the outputs' magnitude below zero above which IF neurons are reported.
  public static let negativeShareLimit = 0.01
  /// The ratio of λ to the mean output magnitude above which a population is reported
  /// (the shipped networks lie between 3 and 36, whatever the granularity: docs/spiking.md).
  public static let scaleRatioLimit = 100.0
  /// The relative error above which a signGD population is reported as not converging, after
  /// ``Convergence/defaultTimesteps`` steps on ``Convergence/defaultImages`` calibration images
  /// (the default schedule's last step is then 3·10⁻⁷ of λ).
  public static let convergenceLimit = 0.05

  /// ``check(_:images:convergence:)`` with the convergence measured on `images` (a network that
  /// was not tuned is simulated on a few of them; see ``Convergence/measure(_:images:threads:)``).
  /// - Throws: `GraphError` when the images do not fit the network's input.
  public static func check(_ network: SpikingNetwork, images: Tensor<Float>, threads: Int? = nil) throws
    -> [ConversionWarning]
  {
    try check(
      network, images: images, convergence: try Convergence.measure(network, images: images, threads: threads)
    )
  }

  /// Checks every population of `network` against the ANN's outputs on `images` (run in chunks
  /// of 100): IF neurons on outputs with more than ``negativeShareLimit`` of their magnitude
  /// below zero, and scales more than ``scaleRatioLimit`` times the mean output magnitude.
  /// Populations whose outputs are all zero are not reported (their neurons stay silent, as
  /// they should). With a `convergence` measured on the network (``Convergence/measure(_:images:threads:)``),
  /// each signGD population still more than ``convergenceLimit`` off its ANN outputs is
  /// reported too, and a readout that answers one class for nearly every image where the ANN
  /// does not (``Convergence/Answers/collapsed``).
  /// - Throws: `GraphError` when the images do not fit the network's input.
  public static func check(
    _ network: SpikingNetwork, images: Tensor<Float>, convergence: Convergence?
  ) throws -> [ConversionWarning] {
    let adapted = try network.graph.adaptInput(images)
    let wanted = Set(network.populations.map(\.node))
    var magnitude = [String: Double]()
    var negative = [String: Double]()
    var lowest = [String: Float]()
    var scaleTotal = [String: Double]()
    let count = adapted.shape[0]
    for start in stride(from: 0, to: count, by: 100) {
      let rows = min(start + 100, count) - start
      let values = network.graph.activations([adapted.rows(start..<(start + rows))], keeping: wanted)
      for spec in network.populations {
        let scalars = values[spec.node]!.scalars
        var sum = 0.0
        var below = 0.0
        var least = lowest[spec.node] ?? 0
        for value in scalars {
          sum += Double(abs(value))
          if value < 0 { below -= Double(value) }
          least = min(least, value)
        }
        magnitude[spec.node, default: 0] += sum
        negative[spec.node, default: 0] += below
        lowest[spec.node] = least
        // Neuron i shares scale i mod groups: every group covers the same number of neurons.
        let perSample = scalars.count / max(rows, 1)
        scaleTotal[spec.node, default: 0] +=
          spec.scales.reduce(0, +) * Double(perSample / spec.scales.count) * Double(rows)
      }
    }
    var warnings = [ConversionWarning]()
    for spec in network.populations {
      let total = magnitude[spec.node]!
      guard total > 0 else { continue }
      let function = network.graph.node(spec.node)?.op.functionName ?? spec.node
      if !spec.dynamics.model.emitsNegativeOutputs, negative[spec.node]! / total > negativeShareLimit {
        warnings.append(
          ConversionWarning(
            population: spec.node, function: function,
            kind: .negativeOutputsUnderIF(
              lost: negative[spec.node]! / total, lowest: Double(lowest[spec.node]!))))
      }
      let ratio = scaleTotal[spec.node]! / total
      if ratio > scaleRatioLimit {
        warnings.append(
          ConversionWarning(
            population: spec.node, function: function, kind: .scaleFarAboveOutputs(ratio: ratio)))
      }
    }
    for population in convergence?.populations ?? []
    where population.relativeError > convergenceLimit && (magnitude[population.name] ?? 0) > 0 {
      warnings.append(
        ConversionWarning(
          population: population.name, function: population.function,
          kind: .notConverging(
            relativeError: population.relativeError, timesteps: convergence!.timesteps,
            images: convergence!.images)))
    }
    if let convergence, let answers = convergence.answers, answers.collapsed {
      warnings.append(
        ConversionWarning(
          population: network.readout, function: network.graph.node(network.readout)?.op.kind ?? "",
          kind: .collapsedReadout(
            share: answers.commonestShare, annShare: answers.annCommonestShare, agreement: answers.agreement,
            timesteps: convergence.timesteps, images: convergence.images)))
    }
    return warnings
  }
}
