import Datasets
import Graph
import ModelIO
import Tensor
import TestSupport
import Testing

@testable import Conversion
@testable import Spiking

/// A population's candidates tried on its recorded drive (``DriveRecording``) measure exactly —
/// bit for bit — what the simulator measures for each as the population of the whole network,
/// so tuning that records chooses what tuning that re-simulates chooses.
@Suite(.needsFashionMNIST) struct DriveRecordingTests {
  /// Each candidate's error summed over `timesteps`, simulated in `part` in place of the
  /// population.
  static func simulated(
    _ candidates: [PopulationSpec], in part: SpikingNetwork, images: Tensor<Float>,
    settings: SimulationSettings
  ) throws -> [Double] {
    try candidates.map { candidate in
      let alone = try Simulator.run(
        try part.replacing(populations: part.populations.map { $0.node == candidate.node ? candidate : $0 }),
        images: images, labels: [Int](repeating: 0, count: images.shape[0]), settings: settings)
      return alone.populations.first { $0.name == candidate.node }!.meanAbsError.reduce(0, +)
    }
  }

  static func candidates(for population: PopulationSpec) -> [PopulationSpec] {
    [
      population,
      population.with(schedule: .geometric(eta0: 0.5, gamma: 0.7), initial: [0.25]),
      population.with(scales: population.scales.map { $0 * 0.6 }),
    ] + (population.target.arity == 1 ? [population.with(offsets: [0.07, -0.05])] : [])
  }

  /// On the MLP, with batches of 128 images (whose ANN reference the simulator computes 100
  /// images at a time) and of 22, on two threads, under both updates and for signGD and
  /// membrane neurons (whose estimate is the mean of what they sent).
  @Test(arguments: [Dynamics.signGD, .integrateAndFire], AffineUpdate.allCases)
  func candidatesOnARecordingMeasureWhatTheSimulatorMeasures(dynamics: Dynamics, update: AffineUpdate) throws
  {
    let calibration = try SimulationTests.calibration
    let network = try SpikingNetwork(
      try SimulationTests.model, dynamics: dynamics, normalization: .max, calibration: calibration)
    let population = network.populations[1]
    let part = try network.truncated(at: population.node)
    let settings = SimulationSettings(timesteps: [4, 8, 16], batchSize: 128, update: update, threads: 2)
    let images = calibration.rows(0..<150)
    let recording = try DriveRecording(part, images: images, steps: 16, settings: settings)
    #expect(recording.population == population.node && recording.steps == 16)
    let candidates = Self.candidates(for: population)
    let expected = try Self.simulated(candidates, in: part, images: images, settings: settings)
    #expect(try recording.errors(of: candidates, at: [4, 8, 16]) == expected)
    // Fewer horizons than recorded: the sum over those alone.
    let early = try Self.simulated(
      candidates, in: part, images: images,
      settings: SimulationSettings(timesteps: [2, 8], batchSize: 128, update: update, threads: 2))
    #expect(try recording.errors(of: candidates, at: [2, 8]) == early)
  }

  /// On the CNN's max pooling, whose population either computes its drive (the window's
  /// maximum) itself (fused) or is decomposed into neurons with two inputs.
  @Test(arguments: [false, true]) func maxPoolingOfTheCNN(fused: Bool) throws {
    let model = try KerasModelReader.read(repositoryRoot.appendingPathComponent("models/cnn.h5").path)
    let calibration = try SimulationTests.calibration.rows(0..<12)
    let network = try SpikingNetwork(
      model, dynamics: .signGD, normalization: .max, calibration: calibration, fuse: fused)
    let settings = SimulationSettings(timesteps: [2, 4], batchSize: 8, threads: 2)
    let tried = network.populations.filter {
      switch network.graph.node($0.node)!.op {
      case .pool2d: fused
      case .binary: !fused
      default: false
      }
    }
    #expect(!tried.isEmpty)
    for population in tried.prefix(2) {
      let part = try network.truncated(at: population.node)
      let recording = try DriveRecording(part, images: calibration, steps: 4, settings: settings)
      let candidates = Self.candidates(for: population)
      let expected = try Self.simulated(candidates, in: part, images: calibration, settings: settings)
      #expect(try recording.errors(of: candidates, at: [2, 4]) == expected, "\(population.node)")
    }
  }

  /// A recording that replays the populations before it — their outputs kept from their own
  /// recordings (``DriveRecording/keepOutputs(of:)``) — measures every candidate exactly as one
  /// that simulates them: on the CNN's decomposed max pooling (signGD, and membrane neurons,
  /// whose outputs are spikes) and through the residual MLP's adds, in batches of 5, 5 and 2.
  @Test(arguments: [
    ("models/cnn.h5", Dynamics.signGD), ("models/cnn.h5", .integrateAndFire), ("models/resmlp.h5", .signGD),
  ])
  func replayingThePopulationsBeforeMeasuresTheSame(model: String, dynamics: Dynamics) throws {
    let graph = try KerasModelReader.read(repositoryRoot.appendingPathComponent(model).path)
    let calibration = try SimulationTests.calibration.rows(0..<12)
    let network = try SpikingNetwork(graph, dynamics: dynamics, normalization: .max, calibration: calibration)
    let settings = SimulationSettings(timesteps: [2, 4], batchSize: 5, threads: 2)
    var kept = [DriveRecording]()
    var replays = 0
    for population in network.populations {
      let part = try network.truncated(at: population.node)
      let replaying = kept.filter { part.graph.node($0.population) != nil }
      replays += replaying.count
      let simulated = try DriveRecording(part, images: calibration, steps: 4, settings: settings)
      let replayed = try DriveRecording(
        part, images: calibration, steps: 4, settings: settings, replaying: replaying)
      let candidates = Self.candidates(for: population)
      #expect(
        try replayed.errors(of: candidates, at: [2, 4]) == simulated.errors(of: candidates, at: [2, 4]),
        "\(population.node)")
      replayed.keepOutputs(of: population)
      #expect(replayed.holdsOutputs)
      kept.append(replayed)
    }
    #expect(replays >= network.populations.count - 1)
    // The replay is what feeds them: outputs of another spec for the first population change
    // what the second measures.
    let (first, second) = (network.populations[0], network.populations[1])
    let other = try DriveRecording(
      try network.truncated(at: first.node), images: calibration, steps: 4, settings: settings)
    other.keepOutputs(of: Self.candidates(for: first)[1])
    let part = try network.truncated(at: second.node)
    let candidates = Self.candidates(for: second)
    #expect(
      try DriveRecording(part, images: calibration, steps: 4, settings: settings, replaying: [other])
        .errors(of: candidates, at: [2, 4])
        != DriveRecording(part, images: calibration, steps: 4, settings: settings)
        .errors(of: candidates, at: [2, 4]))
  }

  /// The mean error per channel of a population that sends nothing by the horizon (membrane
  /// neurons whose threshold is out of reach) is the ANN's mean activation per channel; a
  /// population that sends something has a smaller one.
  @Test func meanErrorsPerChannelAreTheANNsMeanMinusTheEstimates() throws {
    let model = try KerasModelReader.read(repositoryRoot.appendingPathComponent("models/cnn.h5").path)
    let calibration = try SimulationTests.calibration.rows(0..<10)
    let network = try SpikingNetwork(
      model, dynamics: .integrateAndFire, normalization: .max, calibration: calibration)
    let population = network.populations[0]
    let channels = network.graph.node(population.node)!.shape.last!
    let settings = SimulationSettings(timesteps: [3], batchSize: 4, threads: 2)
    let recording = try DriveRecording(
      try network.truncated(at: population.node), images: calibration, steps: 3, settings: settings)
    let silent = population.with(scales: [1e6], initial: [0])
    let measured = try recording.meanErrors(of: silent, at: 3, width: channels)
    let activations = network.graph.activations([calibration], keeping: [population.node])[population.node]!
    var means = [Double](repeating: 0, count: channels)
    for (i, value) in activations.scalars.enumerated() { means[i % channels] += Double(value) }
    let members = Double(activations.scalars.count / channels)
    #expect(measured.count == channels)
    for (a, b) in zip(measured, means.map { $0 / members }) {
      #expect(abs(a - b) <= 1e-6 * max(1, abs(b)), "\(a) vs \(b)")
    }
    let sending = try recording.meanErrors(of: population, at: 3, width: channels)
    #expect(sending.map(abs).reduce(0, +) < measured.reduce(0, +))
  }

  /// Tuning that records every population's drive and tuning that re-simulates the network
  /// before it for every group of candidates choose the same, with the same errors. (The input
  /// correction is measured on recordings only; on this network's signGD populations it is
  /// never kept, so both tunings make the same choices.)
  @Test func tuningChoosesTheSameWithAndWithoutRecordings() throws {
    let calibration = try SimulationTests.calibration
    let network = try SpikingNetwork(
      try SimulationTests.model, dynamics: .signGD, normalization: .max, calibration: calibration)
    func tune(budget: Int) throws -> Tuning.Outcome {
      try Tuning.tune(
        network, images: calibration.rows(0..<100), judging: calibration.rows(0..<200), timesteps: 8,
        aims: [8], threads: 2, recordingBudget: budget)
    }
    let recorded = try tune(budget: Int.max)
    let simulated = try tune(budget: 0)
    #expect(recorded.choices == simulated.choices)
    #expect(!recorded.choices.contains { $0.inputCorrected })
    #expect(recorded.judgements == simulated.judgements)
    #expect(recorded.network.populations == simulated.network.populations)
    // One simulation per population records its drive; re-simulating takes more.
    #expect(recorded.simulations < simulated.simulations)
  }
}

/// A target evaluated over a buffer gives, bit for bit, the function's own value per neuron:
/// the clipped ReLUs' loop included (signed zeros and NaN as the function gives them).
struct TargetEvaluationTests {
  @Test(arguments: [
    UnaryFunction.clippedRelu(maxValue: 6, negativeSlope: 0, threshold: 0),
    .clippedRelu(maxValue: nil, negativeSlope: 0.1, threshold: 0.5),
    .clippedRelu(maxValue: 1, negativeSlope: 0.2, threshold: -0.25), .relu, .leakyRelu(slope: 0.3),
  ])
  func bufferEvaluationIsTheFunction(function: UnaryFunction) {
    let inputs: [Float] = [
      -7, -1, -0.25, -0.0, 0, 0.3, 0.5, 0.99, 1, 5.9, 6, 6.5, 1e9, -.infinity, .infinity, .nan,
    ]
    var out = [Float](repeating: 42, count: inputs.count)
    inputs.withUnsafeBufferPointer { a in
      out.withUnsafeMutableBufferPointer { NeuronTarget.unary(function).evaluate(a, a, into: $0) }
    }
    for (x, y) in zip(inputs, out) {
      #expect(y.bitPattern == function(x).bitPattern, "\(function) at \(x): \(y) vs \(function(x))")
    }
  }
}
