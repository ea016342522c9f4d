import Spiking
import Tensor

/// How far each signGD population of a network converted without tuning still is from its ANN
/// outputs after many steps, and how its answers spread over the classes against the ANN's,
/// measured by simulating a few calibration images (docs/dynamics.md, "Stalled populations").
///
/// A converging population ends within a thousandth of its outputs: the default schedule's last
/// step at T = 256 is 3·10⁻⁷ of λ. One that is further off there *stalled*: its estimates walked
/// to the end of the geometric schedule's reach while the populations before it settled.
public struct Convergence: Sendable, Hashable {
  /// One signGD population: its node, the op its neurons approximate and its mean relative
  /// error after ``timesteps`` steps (0 for a population whose outputs are all zero).
  public struct Population: Sendable, Hashable {
    public let name: String
    public let function: String
    public let relativeError: Double
  }

  /// How the answers of the network and of its ANN spread over the classes on the images
  /// simulated: the share of images given each one's commonest answer, and how often they agree.
  public struct Answers: Sendable, Hashable {
    public let commonestShare: Double
    public let annCommonestShare: Double
    public let agreement: Double

    /// Whether the network answers one class for nearly every image (``collapseShare``) where
    /// its ANN spreads its answers well beyond that (``collapseMargin``).
    public var collapsed: Bool {
      commonestShare >= Convergence.collapseShare
        && commonestShare - annCommonestShare >= Convergence.collapseMargin
    }
  }

  /// The signGD populations, in node order.
  public let populations: [Population]
  /// The answers at ``timesteps``; nil where the readout gives no classes to compare.
  public var answers: Answers?
  /// The steps simulated and the calibration images simulated on.
  public let timesteps: Int
  public let images: Int

  /// The steps and images every measurement uses.
  public static let defaultTimesteps = 256
  public static let defaultImages = 32
  /// The relative error at ``defaultTimesteps`` above which a population counts as stalled.
  public static let stallLimit = 1e-3
  /// A network answering one class for this share of the images or more, while its ANN's
  /// commonest answer covers at least ``collapseMargin`` less, has collapsed.
  public static let collapseShare = 0.9
  public static let collapseMargin = 0.3

  /// Simulates the first ``defaultImages`` of `images` for ``defaultTimesteps`` steps; nil for a
  /// tuned network (its schedules are chosen for its T and need not converge further). A network
  /// without signGD populations has none to measure, only its ``answers``.
  /// - Throws: `GraphError` when the images do not fit the network's input.
  public static func measure(_ network: SpikingNetwork, images: Tensor<Float>, threads: Int? = nil) throws
    -> Convergence?
  {
    guard network.targetTimesteps == nil else { return nil }
    let adapted = try network.graph.adaptInput(images)
    let sample = min(adapted.shape[0], defaultImages)
    guard sample > 0 else { return nil }
    let inputs = adapted.rows(0..<sample)
    let result = try Simulator.run(
      network, images: inputs, labels: [Int](repeating: 0, count: sample),
      settings: SimulationSettings(
        timesteps: [defaultTimesteps], batchSize: max(1, (sample + 1) / 2), threads: threads),
      keepReadout: true)
    let measured = Dictionary(uniqueKeysWithValues: result.populations.map { ($0.name, $0) })
    let populations = network.populations.compactMap { spec -> Population? in
      guard spec.dynamics.model.acceptsPerNeuronSchedule, let population = measured[spec.node] else {
        return nil
      }
      let error = population.meanRelativeError[0]
      return Population(
        name: spec.node, function: population.op, relativeError: error.isFinite ? error : 0)
    }
    var convergence = Convergence(populations: populations, timesteps: defaultTimesteps, images: sample)
    if let readout = result.readout, let agreement = result.agreement.first {
      let ann = network.graph.activations([inputs], keeping: [network.readout])[network.readout]!.scalars
      convergence.answers = Answers(
        commonestShare: commonestShare(readout, images: sample),
        annCommonestShare: commonestShare(ann, images: sample), agreement: agreement)
    }
    return convergence
  }

  /// The share of the images whose arg-max over `outputs` (one row per image) is the commonest.
  static func commonestShare(_ outputs: [Float], images: Int) -> Double {
    let classes = outputs.count / max(images, 1)
    guard classes > 1 else { return 0 }
    var counts = [Int: Int]()
    for image in 0..<images {
      let row = outputs[(image * classes)..<((image + 1) * classes)]
      counts[row.indices.max { row[$0] < row[$1] }! - image * classes, default: 0] += 1
    }
    return Double(counts.values.max() ?? 0) / Double(images)
  }

  /// The first population more than ``stallLimit`` off, if any.
  public var firstStalled: Population? { populations.first { $0.relativeError > Self.stallLimit } }
}

/// The default conversion's repair for stalled populations: from a little before the first
/// stalled population on, every signGD population under the geometric schedule takes a step per
/// neuron instead (``StepSchedule/adaptive(eta0:gamma:)``, same η₀ and γ), whose reach does not
/// run out while its inputs still move (docs/dynamics.md, "Stalled populations").
///
/// It applies only where the stall is one that costs agreement — some population more than
/// ``ConversionWarning/convergenceLimit`` off — so the networks that converge keep the geometric
/// schedule, which is ahead at small T.
public struct ScheduleRepair: Sendable, Hashable {
  /// The first stalled population under the geometric schedule, and its relative error.
  public let stalled: String
  public let stalledError: Double
  /// The first population switched, and how many were.
  public let firstAdaptive: String
  public let switched: Int
  /// The steps and images the stall was measured with.
  public let timesteps: Int
  public let images: Int

  /// How many populations before the first stalled one are switched too: those just before it
  /// still settle late enough to feed the stall (on `app-mobilenet.h5`, switching from the
  /// stalled population on agreed with the ANN on 98 % of test images at T = 256, from two
  /// before it on 100 %; docs/spiking.md).
  public static let margin = 2

  /// The repaired network and what was done; nil where nothing stalled enough to repair.
  public static func repair(_ network: SpikingNetwork, _ convergence: Convergence) throws -> (
    network: SpikingNetwork, repair: ScheduleRepair
  )? {
    guard convergence.populations.contains(where: { $0.relativeError > ConversionWarning.convergenceLimit }),
      let stalled = convergence.firstStalled,
      let index = network.populations.firstIndex(where: { $0.node == stalled.name })
    else { return nil }
    var populations = network.populations
    var first: String?
    var switched = 0
    for k in max(0, index - margin)..<populations.count {
      let spec = populations[k]
      guard spec.dynamics.model.acceptsPerNeuronSchedule, case .geometric(let eta0, let gamma) = spec.schedule
      else {
        continue
      }
      populations[k] = spec.with(schedule: .adaptive(eta0: eta0, gamma: gamma))
      first = first ?? spec.node
      switched += 1
    }
    guard let first else { return nil }
    return (
      try network.replacing(populations: populations),
      ScheduleRepair(
        stalled: stalled.name, stalledError: stalled.relativeError, firstAdaptive: first, switched: switched,
        timesteps: convergence.timesteps, images: convergence.images)
    )
  }
}
