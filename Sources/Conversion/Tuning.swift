import Foundation
import Graph
import Spiking
import Tensor

/// Tuning a converted network for simulation at a given number of time steps T
/// (docs/dynamics.md, "Tuning for few time steps").
///
/// A *search* aimed at a horizon A goes population by population in node order: each candidate
/// is measured by simulating the part of the network the population depends on, on calibration
/// images, with the populations before it already chosen, and the population keeps the
/// candidate with the smallest mean absolute error of its output against the ANN's, summed over
/// A/2, A and 2A. A/2 counts because a start or schedule whose estimates swing on the way to
/// being exact at A makes the populations it feeds chase a moving target; 2A counts so that a
/// choice good at A still holds when the network runs longer. A population's candidates run side
/// by side in one simulation, as copies of it fed by the same upstream spikes.
///
/// Small errors population by population do not always add up to the right class, and which
/// horizon to aim at depends on the network: on the shipped CNN, the search aimed at 32 gives
/// the network closest to the ANN at T = 16; on the BatchNorm CNN, the search aimed at 8 agrees
/// worse with the ANN at T = 8 than the network as converted, and the one aimed at 16 best. So
/// tuning runs the searches aimed at T, T/2 and 2T and keeps, of their networks and the network
/// as converted, the one whose readout agrees best with the ANN at T and 2T on the judging
/// images (the number of images whose class differs; the readout's mean absolute error breaks
/// ties). (Judging at T/2 as well threw away tunings worse only at T/2; judging single
/// populations by the readout instead, or undoing choices one at a time by it, lost accuracy on
/// the MLPs: a few hundred images decide between candidates by a handful of disagreements.)
///
/// The candidates:
///
/// 1. the initial estimate `v_0`: 0, the middle of the range (1/2), or the population's mean
///    calibrated output per group of neurons sharing a scale (in units of λ) — for signGD each
///    with every `(η₀, γ)` of a coarse grid of geometric schedules;
/// 2. for signGD, then, a climb from the best `(η₀, γ)` along finer lists, one neighbour at a
///    time, while the error falls;
/// 3. the scale λ, shrunk by a factor: a smaller λ spends the neuron's resolution on the
///    activations that occur at the price of clipping the largest ones;
/// 4. for a one-input population, its input shifted per channel by the mean error of its output
///    at the horizon aimed at (the ANN's activation minus the estimate, over the tuning images),
///    or half of it, measured again and repeated once while it helps: the bias correction of
///    SNN Calibration (Li et al., ICML 2021). The shift is the population's
///    (``PopulationSpec/offsets``); the graph, and with it the ANN the simulator compares with,
///    stays as it was.
///
/// Only the calibration images given are read: tuning never sees test data.
public enum Tuning {
  /// Where tuning starts a population's neurons.
  public enum Start: String, Sendable, Hashable, Codable {
    /// `v_0 = 0`, as without tuning.
    case zero
    /// The population's mean calibrated output per group of neurons sharing a scale.
    case mean
    /// The middle of the range, `v_0 = 1/2` (in units of λ).
    case middle
    /// Another start the conversion gave (`--initial-membrane`), kept.
    case converted

    /// The start `initial` (in units of λ) is, when one of the fixed ones.
    init(_ initial: [Double]) {
      self =
        initial.allSatisfy { $0 == 0 } ? .zero : initial.allSatisfy { $0 == 0.5 } ? .middle : .converted
    }
  }

  /// What tuning chose for one population, and the error it measured before and after.
  public struct Choice: Sendable, Hashable, Codable {
    public let population: String
    public let schedule: StepSchedule
    /// Where the neurons start.
    public let start: Start
    /// Whether the scales are one λ per neuron (calibrated as the network's are) rather than
    /// the network's.
    public let scalesPerNeuron: Bool
    /// The factor the scales were multiplied by.
    public let scaleFactor: Double
    /// Whether the population's input was shifted by the mean error of its output
    /// (``PopulationSpec/offsets``).
    public let inputCorrected: Bool
    /// The population's mean absolute error summed over A/2, A and 2A for the horizon A searched,
    /// as converted and as tuned (upstream populations tuned in both); equal where tuning was
    /// undone.
    public let errorBefore: Double
    public let errorAfter: Double

    /// The choice undone: the population as converted.
    func undone(_ converted: PopulationSpec) -> Choice {
      Choice(
        population: population, schedule: converted.schedule, start: Start(converted.initial),
        scalesPerNeuron: false, scaleFactor: 1, inputCorrected: false,
        errorBefore: errorBefore, errorAfter: errorBefore)
    }
  }

  /// The tuned network and what was chosen.
  public struct Outcome: Sendable {
    public let network: SpikingNetwork
    /// Per population, what the kept search chose (every choice undone where the network was
    /// kept as converted).
    public let choices: [Choice]
    /// The horizon whose search was kept; nil when the network was kept as converted.
    public let aim: Int?
    /// How each whole network agreed with the ANN: the network as converted first, then the
    /// search of every horizon that changed anything.
    public let judgements: [Judgement]
    /// Simulations run (each of some candidates side by side), the images the searches simulated
    /// and the images the whole networks were judged on.
    public let simulations: Int
    public let images: Int
    public let judgingImages: Int
  }

  /// How a whole network's readout agreed with the ANN's on the judging images, at T and 2T.
  public struct Judgement: Sendable, Hashable, Comparable {
    /// The horizon of the search that gave the network; nil for the network as converted.
    public let aim: Int?
    /// The judging images whose class differs from the ANN's, at T plus at 2T.
    public let disagreements: Int
    /// The readout's mean absolute error against the ANN's, at T plus at 2T.
    public let readoutError: Double

    /// Fewer disagreements first; the readout error breaks ties (a non-finite one loses).
    public static func < (a: Judgement, b: Judgement) -> Bool {
      func key(_ j: Judgement) -> (Int, Double) {
        (j.disagreements, j.readoutError.isFinite ? j.readoutError : .infinity)
      }
      return key(a) < key(b)
    }
  }

  /// The η₀ and γ of the coarse grid tried for signGD populations from every start, and the
  /// finer lists the search then climbs along, one neighbour at a time, from the best of them.
  public static let coarseEta0 = [0.15, 0.35, 0.7]
  public static let coarseGamma = [0.6, 0.8, 0.95]
  public static let fineEta0 = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0]
  public static let fineGamma = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
  /// The factors λ is multiplied by.
  public static let scaleFactors = [1.0, 0.8, 0.6, 0.4]
  /// The fractions of a population's mean output error (per channel, at the horizon aimed at)
  /// tried as a shift of its input, and how many times the correction is measured again and
  /// repeated while it helps.
  public static let correctionFactors = [1.0, 0.5]
  public static let correctionRounds = 2

  /// The horizons tuning aims at for a target of T steps: T, T/2 and 2T (T/2 only from T = 2).
  public static func aims(for timesteps: Int) -> [Int] {
    timesteps >= 2 ? [timesteps, timesteps / 2, 2 * timesteps] : [timesteps, 2 * timesteps]
  }

  /// The steps a search aimed at `aim` sums a population's error over: `aim`/2, `aim` and
  /// 2·`aim` (each once).
  public static func horizons(aim: Int) -> [Int] {
    Array(Set([max(1, aim / 2), aim, 2 * aim])).sorted()
  }

  /// Tunes `network` for `timesteps` steps on `images` (calibration images, never test data).
  ///
  /// One population-by-population search per horizon of `aims`; of the networks they give and
  /// the network as converted, the one whose readout agrees best with the ANN's at T and 2T on
  /// `judging` is kept (ties to the network as converted, then to the earlier horizon).
  /// - Parameters:
  ///   - judging: the images the whole networks are judged on (nil: `images`).
  ///   - aims: the horizons searched (nil: ``aims(for:)``).
  ///   - finerScales: per population, one λ per neuron, calibrated as the network's scales were:
  ///     each search tries every start and coarse schedule with these too.
  ///   - correctInputs: whether one-input populations may have their input shifted by their mean
  ///     error (candidate 4 above).
  ///   - threads: worker threads for the simulations (nil: every core).
  ///   - sharding: how each candidate's simulation is spread over the processes of a job: the
  ///     images are cut into one batch per thread of every process, so that a job of N processes
  ///     with `threads` each tunes exactly as one process with N × `threads` threads.
  ///   - recordingBudget: the most bytes a population's recorded drive may take
  ///     (``DriveRecording``); a population whose recording would take more is searched by
  ///     simulating the network before it for every group of candidates (the same choices,
  ///     slower). nil: ``defaultRecordingBudget``.
  ///   - progress: (populations searched, populations × horizons).
  /// - Throws: `GraphError` when the images do not fit the network's input.
  public static func tune(
    _ network: SpikingNetwork, images: Tensor<Float>, judging: Tensor<Float>? = nil, timesteps: Int,
    aims: [Int]? = nil, finerScales: [String: [Double]]? = nil, correctInputs: Bool = true,
    threads: Int? = nil,
    sharding: Sharding = .alone, recordingBudget: Int? = nil,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> Outcome {
    precondition(timesteps >= 1, "tuning needs T ≥ 1")
    let aims = aims ?? Self.aims(for: timesteps)
    precondition(!aims.isEmpty && aims.allSatisfy { $0 >= 1 }, "tuning needs horizons of at least 1 step")
    let adapted = try network.graph.adaptInput(images)
    let judged = try judging.map { try network.graph.adaptInput($0) } ?? adapted
    let workers = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount) * sharding.processes
    let means = neuronMeans(network, adapted)
    let total = aims.count * network.populations.count
    var simulations = 0
    var searches = [Search]()
    for (k, aim) in aims.enumerated() {
      let search = try self.search(
        network, images: adapted, aim: aim, means: means, finerScales: finerScales ?? [:],
        correctInputs: correctInputs, workers: workers,
        threads: threads, sharding: sharding, recordingBudget: recordingBudget ?? defaultRecordingBudget,
        progress: { progress(k * network.populations.count + $0, total) })
      simulations += search.simulations
      searches.append(search)
    }
    // The searches judged population by population; the whole networks must agree with the ANN.
    let count = judged.shape[0]
    let annClasses = classes(network, judged)
    let settings = SimulationSettings(
      timesteps: [timesteps, 2 * timesteps], batchSize: max(1, (count + workers - 1) / workers),
      threads: threads)
    func judgement(_ populations: [PopulationSpec], aim: Int?) throws -> Judgement {
      simulations += 1
      let result = try Simulator.run(
        try network.replacing(populations: populations), images: judged, labels: annClasses,
        settings: settings, sharding: sharding)
      return Judgement(
        aim: aim,
        disagreements: Int(result.accuracy.reduce(0) { $0 + (1 - $1) * Double(count) }.rounded()),
        readoutError: result.readoutMeanAbsError.reduce(0, +))
    }
    var judgements = [try judgement(network.populations, aim: nil)]
    var kept: (search: Search, judgement: Judgement)?
    var seen = [network.populations]
    for search in searches where !seen.contains(search.populations) {
      seen.append(search.populations)
      let candidate = try judgement(search.populations, aim: search.aim)
      judgements.append(candidate)
      if candidate < (kept?.judgement ?? judgements[0]) { kept = (search, candidate) }
    }
    progress(total, total)
    let choices =
      kept?.search.choices
      ?? zip(searches[0].choices, network.populations).map { $0.undone($1) }
    return Outcome(
      network: try network.replacing(
        populations: kept?.search.populations ?? network.populations, targetTimesteps: timesteps),
      choices: choices, aim: kept?.search.aim, judgements: judgements, simulations: simulations,
      images: adapted.shape[0], judgingImages: count)
  }

  /// Per population that another reads — through affine nodes only, with no population
  /// between — the index (in `network.populations`) of the last population that does.
  static func lastReaders(_ network: SpikingNetwork) -> [String: Int] {
    let isPopulation = Set(network.populations.map(\.node))
    var last = [String: Int]()
    for (index, spec) in network.populations.enumerated() {
      var pending = network.graph.node(spec.node)!.inputs
      var seen = Set<String>()
      while let name = pending.popLast() {
        guard seen.insert(name).inserted else { continue }
        if isPopulation.contains(name) {
          last[name] = index
        } else {
          pending += network.graph.node(name)!.inputs
        }
      }
    }
    return last
  }

  /// The most bytes a population's recorded drive takes by default: an eighth of the machine's
  /// memory (3 GiB on a 24 GiB machine: 256 images × 64 steps of a 32×32×32 convolution).
  public static var defaultRecordingBudget: Int {
    Int(min(ProcessInfo.processInfo.physicalMemory / 8, UInt64(Int.max)))
  }

  /// The most neurons × images the candidates of one population simulate at once: 2²⁶ (each
  /// copy's state, a few floats per neuron and image, stays within about a GiB in all).
  static let candidateBudget = 1 << 26

  /// `part` (read out at its last population's node) with that population replaced by the
  /// candidates side by side: the first in the node itself, every further one in a copy of the
  /// node reading the same inputs. Returns the network and each candidate's node.
  static func side(by candidates: [PopulationSpec], in part: SpikingNetwork) throws -> (
    SpikingNetwork, [String]
  ) {
    let node = part.graph.node(part.readout)!
    var names = [node.name]
    var nodes = part.graph.nodes
    var populations = part.populations.map { $0.node == node.name ? candidates[0] : $0 }
    for candidate in candidates.dropFirst() {
      var name = "\(node.name)#\(names.count)"
      while part.graph.node(name) != nil { name += "'" }
      var copy = node
      copy.name = name
      nodes.append(copy)
      names.append(name)
      populations.append(
        PopulationSpec(
          node: name, target: candidate.target, dynamics: candidate.dynamics, schedule: candidate.schedule,
          scales: candidate.scales, initial: candidate.initial, parameters: candidate.parameters,
          offsets: candidate.offsets))
    }
    let graph = try Graph(name: part.graph.name, nodes: nodes, outputs: [node.name])
    return (
      try SpikingNetwork(
        graph: graph, populations: populations, readout: node.name, normalization: part.normalization,
        granularity: part.granularity, calibrationImages: part.calibrationImages), names
    )
  }

  /// The ANN's class for each image (the arg-max of the readout), computed 100 images at a time.
  static func classes(_ network: SpikingNetwork, _ images: Tensor<Float>) -> [Int] {
    var classes = [Int]()
    let count = images.shape[0]
    for start in stride(from: 0, to: count, by: 100) {
      let values = network.graph.activations(
        [images.rows(start..<min(start + 100, count))], keeping: [network.readout])
      classes += values[network.readout]!.argmaxLastAxis()
    }
    return classes
  }

  /// The up to four neighbours of `(eta0, gamma)` on the fine lists (either value off the lists
  /// counts as its nearest entry).
  static func neighbours(_ eta0: Double, _ gamma: Double) -> [(Double, Double)] {
    func nearest(_ list: [Double], _ value: Double) -> Int {
      list.indices.min { abs(list[$0] - value) < abs(list[$1] - value) }!
    }
    let (i, j) = (nearest(fineEta0, eta0), nearest(fineGamma, gamma))
    var result = [(Double, Double)]()
    for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
      let (a, b) = (i + di, j + dj)
      guard fineEta0.indices.contains(a), fineGamma.indices.contains(b) else { continue }
      result.append((fineEta0[a], fineGamma[b]))
    }
    return result
  }

  /// Per population, the ANN's mean output over `images`, per neuron of a sample.
  static func neuronMeans(_ network: SpikingNetwork, _ images: Tensor<Float>) -> [String: [Double]] {
    var sums = [String: [Double]]()
    let wanted = Set(network.populations.map(\.node))
    let count = images.shape[0]
    for start in stride(from: 0, to: count, by: 100) {
      let values = network.graph.activations(
        [images.rows(start..<min(start + 100, count))], keeping: wanted)
      for spec in network.populations {
        let neurons = network.graph.node(spec.node)!.shape.reduce(1, *)
        var sum = sums[spec.node] ?? [Double](repeating: 0, count: neurons)
        for (i, value) in values[spec.node]!.scalars.enumerated() { sum[i % neurons] += Double(value) }
        sums[spec.node] = sum
      }
    }
    return sums.mapValues { $0.map { $0 / Double(count) } }
  }

  /// The mean of `neuronMeans` over each group of neurons sharing one of `scales`, divided by
  /// that scale: the start `v_0` that is right on average.
  static func startAtMean(_ neuronMeans: [Double], scales: [Double]) -> [Double] {
    let groups = scales.count
    var sums = [Double](repeating: 0, count: groups)
    for (i, value) in neuronMeans.enumerated() { sums[i % groups] += value }
    let members = Double(neuronMeans.count / groups)
    return zip(sums, scales).map { $0 / members / $1 }
  }
}
