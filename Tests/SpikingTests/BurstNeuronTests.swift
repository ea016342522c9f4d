import Conversion
import Datasets
import Graph
import Tensor
import TestSupport
import Testing

@testable import Spiking

/// The burst integrate-and-fire neuron (`--dynamics burst`): up to 2ᵇ − 1 spikes per step,
/// docs/dynamics.md "Burst integrate-and-fire".
@Suite struct BurstNeuronTests {
  /// What one burst neuron with λ = 1 sends each step under a constant current.
  func outputs(
    current: Double, steps: Int, bits: Int, reset: ResetMode = .subtract, leak: Double? = nil,
    start: Double = 0
  ) -> [Double] {
    var parameters = MembraneIntegrateAndFire.Membrane(reset: reset, leak: leak).parameters
    parameters["bits"] = .number(Double(bits))
    var population = Population<Double>(
      dynamics: .burst, target: .unary(.relu), scales: [1], initial: [start], count: 1, parameters: parameters
    )
    var sent = [Double]()
    var out = [0.0]
    for _ in 0..<steps {
      [current].withUnsafeBufferPointer { input in
        out.withUnsafeMutableBufferPointer { population.advance(first: input, output: $0) }
      }
      sent.append(out[0])
    }
    return sent
  }

  @Test func aBurstCountsTheThresholdsItsPotentialExceeds() {
    // b = 2: n = 3 thresholds of 1/3 each. A current of 0.5 adds 1.5 thresholds a step:
    // u = 1.5 → 1 spike (u 0.5), 2.0 → 1 (u 1.0; strictly above 1 only), 2.5 → 2 (u 0.5), 2.0 → 1.
    #expect(outputs(current: 0.5, steps: 4, bits: 2).map { $0 * 3 } == [1, 1, 2, 1])
    // Reset to zero drops the charge left after each burst: 1.5 → 1 (u 0) every step.
    #expect(outputs(current: 0.5, steps: 4, bits: 2, reset: .zero).map { $0 * 3 } == [1, 1, 1, 1])
    // Saturation at n spikes (λ a step), and silence below zero.
    #expect(outputs(current: 5, steps: 3, bits: 3) == [1, 1, 1])
    #expect(outputs(current: -1, steps: 3, bits: 3) == [0, 0, 0])
    // A start of half a threshold rounds instead of truncating: 0.2 is 0.6 thresholds, 1.1 with
    // the start → 1 spike; 0.6 from rest → none.
    #expect(outputs(current: 0.2, steps: 1, bits: 2, start: 0.5).map { ($0 * 3).rounded() } == [1])
    #expect(outputs(current: 0.2, steps: 1, bits: 2) == [0])
  }

  @Test(arguments: [1, 2, 3])
  func itsRateIsWithinOneLevelOfTheClippedInput(bits: Int) {
    let n = Double((1 << bits) - 1)
    let steps = 8
    for current in stride(from: -0.2, through: 1.3, by: 0.037) {
      let rate = outputs(current: current, steps: steps, bits: bits).reduce(0, +) / Double(steps)
      let target = min(max(current, 0), 1)
      #expect(abs(rate - target) <= 1 / (n * Double(steps)) + 1e-12, "b = \(bits), I = \(current): \(rate)")
    }
  }

  @Test func oneBitIsTheMembraneNeuronToTheBit() {
    for reset in ResetMode.allCases {
      for leak in [nil, 4.0] {
        for current in [0.13, 0.5, 0.77, 1.4] {
          var membrane = Population<Double>(
            dynamics: .integrateAndFire, target: .unary(.relu), scales: [1.7], count: 1,
            parameters: MembraneIntegrateAndFire.Membrane(reset: reset, leak: leak).parameters)
          var single = MembraneIntegrateAndFire.Membrane(reset: reset, leak: leak).parameters
          single["bits"] = .number(1)
          var burst = Population<Double>(
            dynamics: .burst, target: .unary(.relu), scales: [1.7], count: 1, parameters: single)
          var (a, b) = ([0.0], [0.0])
          for _ in 0..<50 {
            [current].withUnsafeBufferPointer { input in
              a.withUnsafeMutableBufferPointer { membrane.advance(first: input, output: $0) }
              b.withUnsafeMutableBufferPointer { burst.advance(first: input, output: $0) }
            }
            #expect(a == b && membrane.estimates == burst.estimates, "\(reset) \(String(describing: leak))")
          }
          #expect(membrane.spikeCount == burst.spikeCount)
        }
      }
    }
  }

  @Test func itsSettingsAreDeclaredAndChecked() {
    #expect(Dynamics.burst.model.parameters.map(\.name) == ["bits", "reset", "leak"])
    #expect(BurstIntegrateAndFire.bitsPerStep(NeuronParameters(["bits": .number(3)])) == 3)
    #expect(BurstIntegrateAndFire.bitsPerStep(NeuronParameters()) == 2)
    #expect(MembraneIntegrateAndFire.bitsPerStep(NeuronParameters()) == 1)
    #expect(NeuronParameters(["bits": .number(4)]).problem(for: .burst)?.contains("1…3") == true)
    #expect(
      NeuronParameters(["bits": .number(2)]).problem(for: .integrateAndFire)?.contains("no setting 'bits'")
        == true)
    #expect(NeuronParameters(["bits": .number(2)]).problem(for: .burst) == nil)
    let reason = Dynamics.burst.model.notExportableToNIR
    #expect(reason?.contains("one") == true)
  }
}

@Suite(.needsFashionMNIST) struct BurstSimulationTests {
  func network(_ dynamics: Dynamics, bits: Int? = nil) throws -> SpikingNetwork {
    try SpikingNetwork(
      converting: SimulationTests.model,
      settings: ConversionSettings(
        dynamics: dynamics, calibrationImages: 500,
        neuron: NeuronParameters(bits.map { ["bits": .number(Double($0))] } ?? [:])),
      calibration: SimulationTests.calibration)
  }

  @Test func oneBitSimulatesAsTheMembraneNetwork() throws {
    let images = try SimulationTests.test.images.rows(0..<100)
    let labels = try Array(SimulationTests.test.labels[0..<100])
    let membrane = try Simulator.run(
      try network(.integrateAndFire), images: images, labels: labels, timesteps: [4, 16])
    let burst = try Simulator.run(
      try network(.burst, bits: 1), images: images, labels: labels, timesteps: [4, 16])
    #expect(membrane.accuracy == burst.accuracy)
    #expect(membrane.populations.map(\.meanAbsError) == burst.populations.map(\.meanAbsError))
    #expect(
      membrane.populations.map(\.spikesPerNeuronPerStep) == burst.populations.map(\.spikesPerNeuronPerStep))
  }

  /// `T` steps of `b` bits against the binary neuron at the same `T` and at `(2ᵇ − 1)·T`.
  @Test func moreBitsPerStepReachTheANNInFewerSteps() throws {
    let images = try SimulationTests.test.images.rows(0..<200)
    let labels = try Array(SimulationTests.test.labels[0..<200])
    let binary = try Simulator.run(
      try network(.integrateAndFire), images: images, labels: labels, timesteps: [4, 12])
    let burst = try Simulator.run(
      try network(.burst, bits: 2), images: images, labels: labels, timesteps: [4])
    for (b, m) in zip(burst.populations, binary.populations) {
      // Finer levels: less error than binary at the same T…
      #expect(b.meanAbsError[0] < m.meanAbsError[0], "\(b.name): \(b.meanAbsError) vs \(m.meanAbsError)")
      // … and within a factor of the binary neuron given three times the steps.
      #expect(b.meanAbsError[0] < 2 * m.meanAbsError[1], "\(b.name): \(b.meanAbsError) vs \(m.meanAbsError)")
      // Bursts: up to three spikes a step.
      #expect(b.spikesPerNeuronPerStep[0] <= 3)
    }
    #expect(burst.accuracy[0] >= binary.accuracy[0], "\(burst.accuracy) vs \(binary.accuracy)")
  }
}
