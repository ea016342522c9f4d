import Conversion
import Foundation
import Graph
import Spiking
import Tensor
import Testing

/// A network of one Dense layer of four units (identity kernel, no bias) and the activation
/// `function`.
private func oneLayer(_ function: UnaryFunction) throws -> Graph {
  var kernel = [Float](repeating: 0, count: 16)
  for i in 0..<4 { kernel[i * 4 + i] = 1 }
  return try Graph(
    name: "one-layer",
    nodes: [
      Node(name: "x", op: .input(shape: [4])),
      Node(
        name: "dense", op: .dense(units: 4, useBias: false), inputs: ["x"],
        parameters: ["kernel": Tensor(shape: [4, 4], scalars: kernel)]),
      Node(name: "act", op: .activation(function), inputs: ["dense"]),
      Node(
        name: "out", op: .dense(units: 2, useBias: false), inputs: ["act"],
        parameters: ["kernel": Tensor(repeating: 0.5, shape: [4, 2])]),
    ])
}

@Suite struct ConversionWarningTests {
  /// 499 images of 0.001 and one of 10: λ = 10 per channel while the outputs average about
  /// 0.021, a ratio near 476 — reported, naming the population; evenly spread inputs are not.
  @Test func scalesFarAboveTheOutputsAreReported() throws {
    var scalars = [Float](repeating: 0.001, count: 500 * 4)
    for i in 0..<4 { scalars[i] = 10 }
    let rare = Tensor<Float>(shape: [500, 4], scalars: scalars)
    let network = try SpikingNetwork(
      try oneLayer(.relu), dynamics: .signGD, normalization: .max, calibration: rare)
    let warnings = try ConversionWarning.check(network, images: rare)
    #expect(warnings.count == 1)
    let warning = try #require(warnings.first)
    #expect(warning.population == "act" && warning.function == "relu")
    guard case .scaleFarAboveOutputs(let ratio) = warning.kind else {
      Issue.record("\(warning)")
      return
    }
    #expect(abs(ratio - 10 / ((10 + 499 * 0.001) / 500)) < 0.5, "\(ratio)")
    #expect(warning.description.contains("population 'act' (relu)"))

    let even = Tensor<Float>(shape: [100, 4], scalars: (0..<400).map { Float($0 % 100) / 100 })
    let calm = try SpikingNetwork(
      try oneLayer(.relu), dynamics: .signGD, normalization: .max, calibration: even)
    #expect(try ConversionWarning.check(calm, images: even).isEmpty)
  }

  /// tanh of inputs in [−1, 1] is half negative: unsigned IF neurons are reported, signed IF and
  /// signGD neurons are not; ReLU under IF is not.
  @Test(arguments: [
    (Dynamics.subgradient, UnaryFunction.tanh, true), (.signedSubgradient, .tanh, false),
    (.signGD, .tanh, false),
    (.subgradient, .relu, false),
  ])
  func integrateAndFireOnNegativeOutputsIsReported(
    dynamics: Dynamics, function: UnaryFunction, reported: Bool
  )
    throws
  {
    let images = Tensor<Float>(shape: [50, 4], scalars: (0..<200).map { Float($0 % 21 - 10) / 10 })
    let network = try SpikingNetwork(
      try oneLayer(function), dynamics: dynamics, normalization: .max, calibration: images)
    let warnings = try ConversionWarning.check(network, images: images)
    #expect(
      warnings.contains {
        if case .negativeOutputsUnderIF(let lost, let lowest) = $0.kind {
          return $0.population == "act" && lost > 0.4 && lost < 0.6 && abs(lowest - tanh(-1.0)) < 1e-6
        }
        return false
      } == reported, "\(warnings)")
    #expect(warnings.allSatisfy { if case .negativeOutputsUnderIF = $0.kind { reported } else { false } })
  }

  /// The nested transfer-learning fixture's head (λ 0.024 behind estimates of λ 3.6) walks out
  /// of reach: reported, naming it; the same network tuned is not simulated for it, and the
  /// Keras MLP, whose populations converge, gets no warning.
  @Test func aPopulationThatDoesNotConvergeIsReported() throws {
    let (graph, images) = try fixture("keras3_func_nested")
    let network = try SpikingNetwork(graph, dynamics: .signGD, normalization: .max, calibration: images)
    let warnings = try ConversionWarning.check(network, images: images)
    let stuck = warnings.compactMap { warning -> (String, Double)? in
      if case .notConverging(let error, let steps, let count) = warning.kind, steps == 256, count == 4 {
        return (warning.population, error)
      }
      return nil
    }
    #expect(stuck.map(\.0) == ["head_fc_relu"], "\(warnings)")
    #expect(stuck.allSatisfy { $0.1 > 0.1 })
    let tuned = try network.replacing(populations: network.populations, targetTimesteps: 16)
    #expect(
      try ConversionWarning.check(tuned, images: images).allSatisfy {
        if case .notConverging = $0.kind { false } else { true }
      })
    let model = try SimulationTests.model
    let calibration = try SimulationTests.calibration.rows(0..<100)
    let healthy = try SpikingNetwork(model, dynamics: .signGD, normalization: .max, calibration: calibration)
    #expect(try ConversionWarning.check(healthy, images: calibration).isEmpty)
  }

  /// The nested fixture's head stalls under the geometric schedule (above): the repair gives the
  /// populations from two before it on a step per neuron, keeps the ones before as they were,
  /// and the repaired head converges; a network whose populations converge is left alone.
  @Test func stalledPopulationsGetAStepPerNeuron() throws {
    let (graph, images) = try fixture("keras3_func_nested")
    let network = try SpikingNetwork(graph, dynamics: .signGD, normalization: .max, calibration: images)
    let measured = try #require(try Convergence.measure(network, images: images))
    #expect(measured.timesteps == 256 && measured.images == 4)
    let stalled = try #require(measured.firstStalled)
    let (repaired, repair) = try #require(try ScheduleRepair.repair(network, measured))
    #expect(repair.stalled == stalled.name && repair.stalledError == stalled.relativeError)
    let index = network.populations.firstIndex { $0.node == stalled.name }!
    let first = max(0, index - ScheduleRepair.margin)
    #expect(repair.firstAdaptive == network.populations[first].node)
    #expect(repair.switched == network.populations.count - first)
    for (k, (before, after)) in zip(network.populations, repaired.populations).enumerated() {
      guard case .geometric(let eta0, let gamma) = before.schedule else {
        Issue.record("\(before.node): \(before.schedule)")
        continue
      }
      #expect(after.schedule == (k >= first ? .adaptive(eta0: eta0, gamma: gamma) : before.schedule))
      #expect(
        after.scales == before.scales && after.initial == before.initial && after.target == before.target)
    }
    let after = try #require(try Convergence.measure(repaired, images: images))
    let head = try #require(after.populations.first { $0.name == "head_fc_relu" })
    #expect(head.relativeError < ConversionWarning.convergenceLimit, "\(after.populations)")
    #expect(
      try ConversionWarning.check(repaired, images: images, convergence: after).allSatisfy {
        if case .notConverging = $0.kind { false } else { true }
      })

    let model = try SimulationTests.model
    let calibration = try SimulationTests.calibration.rows(0..<100)
    let healthy = try SpikingNetwork(model, dynamics: .signGD, normalization: .max, calibration: calibration)
    let converged = try #require(try Convergence.measure(healthy, images: calibration))
    #expect(converged.populations.count == healthy.populations.count)
    #expect(try ScheduleRepair.repair(healthy, converged) == nil)
    let tuned = try network.replacing(populations: network.populations, targetTimesteps: 16)
    #expect(try Convergence.measure(tuned, images: images) == nil)
  }

  /// Only the default signGD conversion without tuning is repaired.
  @Test func onlyTheDefaultScheduleIsRepaired() {
    #expect(ConversionSettings().repairsStalledPopulations)
    #expect(!ConversionSettings(schedule: .geometric(eta0: 0.15, gamma: 0.95)).repairsStalledPopulations)
    #expect(!ConversionSettings(targetTimesteps: 8).repairsStalledPopulations)
    #expect(!ConversionSettings(dynamics: .integrateAndFire).repairsStalledPopulations)
    #expect(!ConversionSettings(dynamics: .subgradient).repairsStalledPopulations)
  }
}

/// A readout that answers one class whatever the input is announced at conversion.
@Suite struct ReadoutCollapseTests {
  /// Two inputs through an identity Dense and ReLU to two classes: class 1 where the second
  /// input is the larger. 40 images alternate the two, both inputs 2 or 3.
  func twoClasses() throws -> (Graph, Tensor<Float>) {
    let graph = try Graph(
      name: "two-classes",
      nodes: [
        Node(name: "x", op: .input(shape: [2])),
        Node(
          name: "dense", op: .dense(units: 2, useBias: false), inputs: ["x"],
          parameters: ["kernel": Tensor(shape: [2, 2], scalars: [1, 0, 0, 1])]),
        Node(name: "act", op: .activation(.relu), inputs: ["dense"]),
        Node(
          name: "out", op: .dense(units: 2, useBias: false), inputs: ["act"],
          parameters: ["kernel": Tensor(shape: [2, 2], scalars: [1, 0, 0, 1])]),
      ])
    let images = Tensor<Float>(shape: [40, 2], scalars: (0..<40).flatMap { $0 % 2 == 0 ? [3, 2] : [2, 3] })
    return (graph, images)
  }

  @Test func membranesSaturatedByTheirScaleAnswerOneClassAndAreReported() throws {
    let (graph, images) = try twoClasses()
    // No normalization: λ = 1 under outputs of 2 and 3, every neuron fires every step, the two
    // classes tie and the first one wins for every image.
    let saturated = try SpikingNetwork(graph, dynamics: .integrateAndFire, normalization: .none)
    let measured = try #require(try Convergence.measure(saturated, images: images))
    let answers = try #require(measured.answers)
    #expect(answers.commonestShare == 1 && answers.annCommonestShare == 0.5 && answers.collapsed)
    let warnings = try ConversionWarning.check(saturated, images: images, convergence: measured)
    let warning = try #require(warnings.first { if case .collapsedReadout = $0.kind { true } else { false } })
    #expect(warning.population == "out" && "\(warning)".contains("one answer to 100.0 %"), "\(warning)")
    // Calibrated, the same network answers as its ANN and nothing is reported.
    let calibrated = try SpikingNetwork(
      graph, dynamics: .integrateAndFire, normalization: .max, calibration: images)
    let healthy = try #require(try Convergence.measure(calibrated, images: images))
    #expect(healthy.answers?.agreement == 1 && healthy.answers?.collapsed == false)
    #expect(
      try ConversionWarning.check(calibrated, images: images, convergence: healthy).allSatisfy {
        if case .collapsedReadout = $0.kind { false } else { true }
      })
  }
}
