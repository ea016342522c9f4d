import Datasets
import Testing

@testable import Conversion
@testable import Spiking

/// What the simulator reports a step to cost next to the ANN's forward pass.
@Suite(.needsFashionMNIST) struct StepCostTests {
  @Test func theRatioIsAStepsTimeOverAForwardPass() {
    var cost = StepCost(annForwardSeconds: 2, stepSeconds: 64, steps: 32, images: 100)
    #expect(cost.ratio == 1)
    cost.add(StepCost(annForwardSeconds: 2, stepSeconds: 128, steps: 32, images: 100))
    #expect(cost.ratio == 1.5 && cost.images == 200 && cost.steps == 32)
    #expect(cost.summary?.hasPrefix("one step costs 1.50× the ANN's forward pass") == true)
    #expect(StepCost().ratio == nil && StepCost().summary == nil)
  }

  /// Every batch on every thread is timed: both sides positive, the steps the largest T, the
  /// images all of them.
  @Test(arguments: [1, 2])
  func aSimulationTimesEveryBatch(threads: Int) throws {
    let network = try SpikingNetwork(
      try SimulationTests.model, dynamics: .signGD, normalization: .max,
      calibration: try SimulationTests.calibration.rows(0..<100))
    let test = try SimulationTests.test
    let result = try Simulator.run(
      network, images: test.images.rows(0..<120), labels: Array(test.labels[0..<120]),
      settings: SimulationSettings(timesteps: [4, 12], batchSize: 50, threads: threads))
    let cost = try #require(result.stepCost)
    #expect(cost.annForwardSeconds > 0 && cost.stepSeconds > 0)
    #expect(cost.steps == 12 && cost.images == 120)
    #expect(cost.ratio.map { $0.isFinite && $0 > 0 } == true)
  }
}
