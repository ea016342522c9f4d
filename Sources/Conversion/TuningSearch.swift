import Foundation
import Graph
import Spiking
import Tensor

/// The population-by-population search of ``Tuning`` and its steps.
extension Tuning {
  /// What one population-by-population search aimed at one horizon chose.
  struct Search {
    let aim: Int
    let populations: [PopulationSpec]
    let choices: [Choice]
    let simulations: Int
  }

  /// Population by population in node order, the candidate with the smallest mean absolute error
  /// of its output against the ANN's, summed over `aim`/2, `aim` and 2·`aim` (the populations
  /// before it already chosen).
  static func search(
    _ network: SpikingNetwork, images adapted: Tensor<Float>, aim: Int, means: [String: [Double]],
    finerScales: [String: [Double]], correctInputs: Bool = true, workers: Int, threads: Int?,
    sharding: Sharding, recordingBudget: Int,
    progress: (Int) -> Void
  ) throws -> Search {
    let count = adapted.shape[0]
    let settings = SimulationSettings(
      timesteps: horizons(aim: aim),
      batchSize: max(1, (count + workers - 1) / workers),
      threads: threads)
    var populations = network.populations
    var choices = [Choice]()
    var simulations = 0
    // The outputs of chosen populations that populations still to come read, as recorded: they
    // stand in for everything before them (within the recording budget).
    var kept = [String: DriveRecording]()
    var keptBytes = [String: Int]()
    let lastReader = lastReaders(network)
    for (index, original) in network.populations.enumerated() {
      progress(index)
      // The part of the network up to this population, with the populations before it tuned.
      let part = try network.replacing(populations: populations).truncated(at: original.node)
      let neurons = network.graph.node(original.node)!.shape.reduce(1, *)
      // What feeds the population, recorded once for all its candidates where it fits.
      var recording: DriveRecording?
      let bytes = DriveRecording.bytes(
        images: count, steps: settings.timesteps.last!, neurons: neurons, operands: original.target.arity)
      if bytes <= recordingBudget {
        simulations += 1
        recording = try DriveRecording(
          part, images: adapted, steps: settings.timesteps.last!, settings: settings,
          sharding: sharding, replaying: kept.values.filter { part.graph.node($0.population) != nil })
      }
      let groupSize = max(1, candidateBudget / max(1, count * neurons))
      var candidates = Candidates(original: original) { [recording] specs in
        if let recording { return try recording.errors(of: specs, at: settings.timesteps) }
        let (values, runs) = try sideBySide(
          specs, in: part, images: adapted, settings: settings, sharding: sharding, groupSize: groupSize)
        simulations += runs
        return values
      }
      let (start, perNeuron, before) = try searchGrid(
        &candidates, finerScales: finerScales[original.node], means: means[original.node]!)
      try climb(&candidates)
      let factor = try shrinkScale(&candidates)
      var corrected = false
      if correctInputs, let recording, original.target.arity == 1 {
        corrected = try correctInput(
          &candidates, on: recording, aim: aim, width: network.graph.node(original.node)!.shape.last ?? 1)
      }
      let best = candidates.best
      populations[index] = best
      let outputBytes = DriveRecording.bytes(
        images: count, steps: settings.timesteps.last!, neurons: neurons, operands: 1)
      if let recording, lastReader[original.node] != nil,
        keptBytes.values.reduce(0, +) + outputBytes <= recordingBudget
      {
        recording.keepOutputs(of: best)
        (kept[original.node], keptBytes[original.node]) = (recording, outputBytes)
      }
      for (name, last) in lastReader where last <= index {
        (kept[name], keptBytes[name]) = (nil, nil)
      }
      choices.append(
        Choice(
          population: original.node, schedule: best.schedule, start: start, scalesPerNeuron: perNeuron,
          scaleFactor: factor, inputCorrected: corrected, errorBefore: before,
          errorAfter: candidates.bestError))
    }
    return Search(aim: aim, populations: populations, choices: choices, simulations: simulations)
  }

  /// One population's candidates, each measured by `measure` (the population's error as each
  /// spec), and the best so far.
  struct Candidates {
    private(set) var best: PopulationSpec
    private(set) var bestError = Double.infinity
    let measure: ([PopulationSpec]) throws -> [Double]

    init(original: PopulationSpec, measure: @escaping ([PopulationSpec]) throws -> [Double]) {
      best = original
      self.measure = measure
    }

    /// Measures `specs` (unless `measured` gives their errors) and keeps, in their order, each
    /// that beats the best so far (`firstOnly`: only the first); returns the indices kept. One at
    /// a time, each measured against the best before it, would choose the same.
    @discardableResult mutating func consider(
      _ specs: [PopulationSpec], measured: [Double]? = nil, firstOnly: Bool = false
    ) throws -> [Int] {
      var kept = [Int]()
      for (k, value) in try (measured ?? measure(specs)).enumerated() where value < bestError {
        (best, bestError) = (specs[k], value)
        kept.append(k)
        if firstOnly { break }
      }
      return kept
    }
  }

  /// The population's error as each of `specs`, simulated side by side as copies of the
  /// population fed by one simulation of `part` before it, `groupSize` at a time; and the
  /// simulations run.
  static func sideBySide(
    _ specs: [PopulationSpec], in part: SpikingNetwork, images: Tensor<Float>, settings: SimulationSettings,
    sharding: Sharding, groupSize: Int
  ) throws -> ([Double], Int) {
    var values = [Double]()
    var runs = 0
    for first in stride(from: 0, to: specs.count, by: groupSize) {
      runs += 1
      let group = Array(specs[first..<min(first + groupSize, specs.count)])
      let (candidates, names) = try side(by: group, in: part)
      let result = try Simulator.run(
        candidates, images: images, labels: [Int](repeating: 0, count: images.shape[0]), settings: settings,
        sharding: sharding)
      for name in names {
        let total = result.populations.first { $0.name == name }!.meanAbsError.reduce(0, +)
        values.append(total.isFinite ? total : .infinity)
      }
    }
    return (values, runs)
  }

  /// Starts: 0, the calibrated mean, or the middle of the range (with halving steps, the start of
  /// a successive approximation), each with every schedule of the coarse grid, with the
  /// network's λ and with one λ per neuron (`finerScales`) where the network shares λ more
  /// widely; the population as converted first. Returns the start and granularity kept and the
  /// error of the population as converted.
  static func searchGrid(
    _ candidates: inout Candidates, finerScales: [Double]?, means: [Double]
  ) throws -> (start: Start, perNeuron: Bool, before: Double) {
    let original = candidates.best
    let schedules: [StepSchedule] =
      original.dynamics.model.tunesSchedule
      ? coarseEta0.flatMap { eta0 in coarseGamma.map { .geometric(eta0: eta0, gamma: $0) } }
      : [original.schedule]
    var scaleSets = [original.scales]
    if let finerScales, finerScales != original.scales { scaleSets.append(finerScales) }
    var grid: [(start: Start, perNeuron: Bool, spec: PopulationSpec)] = [
      (Start(original.initial), false, original)
    ]
    for (set, scales) in scaleSets.enumerated() {
      var starts: [(Start, [Double])] = [(.zero, [0]), (.middle, [0.5])]
      let mean = startAtMean(means, scales: scales)
      if mean.contains(where: { $0 != 0 }) { starts.append((.mean, mean)) }
      let candidate = original.with(scales: scales)
      for (kind, initial) in starts {
        for schedule in schedules
        where !(set == 0 && initial == original.initial && schedule == original.schedule) {
          grid.append((kind, set > 0, candidate.with(schedule: schedule, initial: initial)))
        }
      }
    }
    let errors = try candidates.measure(grid.map(\.spec))
    let kept = try candidates.consider(grid.map(\.spec), measured: errors).last ?? 0
    return (grid[kept].start, grid[kept].perNeuron, errors[0])
  }

  /// For signGD: the neighbours of the best (η₀, γ) on the finer lists, tried until none is
  /// better.
  static func climb(_ candidates: inout Candidates) throws {
    guard candidates.best.dynamics.model.tunesSchedule,
      case .geometric(var eta0, var gamma) = candidates.best.schedule
    else { return }
    while true {
      let steps = neighbours(eta0, gamma)
      let best = candidates.best
      guard
        let k = try candidates.consider(
          steps.map { best.with(schedule: .geometric(eta0: $0.0, gamma: $0.1)) }, firstOnly: true
        ).first
      else { return }
      (eta0, gamma) = steps[k]
    }
  }

  /// λ shrunk by each of ``scaleFactors`` (the start kept where it is in absolute terms);
  /// returns the factor kept.
  static func shrinkScale(_ candidates: inout Candidates) throws -> Double {
    let chosen = candidates.best
    let factors = Array(scaleFactors.dropFirst())
    let scaled = factors.map { candidate in
      chosen.with(
        scales: chosen.scales.map { max($0 * candidate, Calibration.smallestScale) },
        initial: chosen.initial.count == chosen.scales.count
          ? zip(chosen.initial, chosen.scales).map {
            $0 * $1 / max($1 * candidate, Calibration.smallestScale)
          }
          : chosen.initial.map { $0 / candidate })
    }
    return try candidates.consider(scaled).last.map { factors[$0] } ?? 1
  }

  /// The population's input shifted per channel (`width` positions) by each of
  /// ``correctionFactors`` of its mean output error at `aim`, measured again and repeated
  /// (``correctionRounds``) while it helps; returns whether a shift was kept.
  static func correctInput(
    _ candidates: inout Candidates, on recording: DriveRecording, aim: Int, width: Int
  ) throws -> Bool {
    var corrected = false
    for _ in 0..<correctionRounds {
      let best = candidates.best
      let error = try recording.meanErrors(of: best, at: aim, width: width)
      let current = best.offsets.isEmpty ? [Double](repeating: 0, count: width) : best.offsets
      let shifted = correctionFactors.map { k in best.with(offsets: zip(current, error).map { $0 + k * $1 }) }
      guard try !candidates.consider(shifted).isEmpty else { break }
      corrected = true
    }
    return corrected
  }
}
