import Conversion
import Datasets
import Graph
import Tensor
import TestSupport
import Testing

@testable import Spiking

/// The membrane integrate-and-fire neuron (`--dynamics if`): spikes on the wire, reset by
/// subtraction or to zero, an optional leak, max pooling as ReLU neurons.
@Suite struct MembraneNeuronTests {
  /// The steps (1-based) at which one membrane neuron with λ = 2 fires under a constant
  /// current, and the outputs it sends.
  func spikes(
    current: Double, steps: Int, reset: ResetMode = .subtract, leak: Double? = nil, start: Double = 0
  )
    -> (times: [Int], outputs: [Double])
  {
    var population = Population<Double>(
      dynamics: .integrateAndFire, target: .unary(.relu), scales: [2], initial: [start], count: 1,
      parameters: MembraneIntegrateAndFire.Membrane(reset: reset, leak: leak).parameters)
    var times = [Int]()
    var outputs = [Double]()
    var output = [0.0]
    for t in 1...steps {
      [current].withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { population.advance(first: input, output: $0) }
      }
      if output[0] != 0 { times.append(t) }
      outputs.append(output[0])
    }
    #expect(population.spikeCount == times.count)
    return (times, outputs)
  }

  @Test func resetBySubtractionKeepsTheChargeAboveTheThreshold() {
    // I/λ = 0.625 (exact in binary): u = 0.625, 1.25 → fire, keep 0.25; 0.875, 1.5 → fire,
    // keep 0.5; 1.125 → fire; 0.75, 1.375 → fire; 1.0 (not above), 1.625 → fire; 1.25 → fire.
    let run = spikes(current: 1.25, steps: 10)
    #expect(run.times == [2, 4, 5, 7, 9, 10])
    // What the neuron sends is λ per spike, nothing otherwise.
    #expect(Set(run.outputs) == [0, 2])
  }

  @Test func resetToZeroDropsIt() {
    // From 0 after each spike, the 0.25 above the threshold is lost every time: a rate of 1/2
    // for an input of 0.625.
    #expect(spikes(current: 1.25, steps: 10, reset: .zero).times == [2, 4, 6, 8, 10])
  }

  @Test func aLeakyMembraneKeepsOneMinusOneOverTauPerStep() {
    // τ = 4 keeps 3/4: u = 0.375, 0.65625, 0.8671875, 1.025390625 → fire at step 4.
    #expect(spikes(current: 0.75, steps: 4, leak: 4).times == [4])
    // A current whose fixed point u = I·τ/λ = 0.9 stays below the threshold never fires.
    #expect(spikes(current: 0.45, steps: 200, leak: 4).times.isEmpty)
  }

  @Test func aStartingMembraneFiresEarlier() {
    #expect(spikes(current: 0.75, steps: 3, start: 0.5).times == [2])
  }

  @Test func negativeCurrentNeverFiresAndTheRateIsTheClippedInput() {
    #expect(spikes(current: -1, steps: 50).times.isEmpty)
    // Over T steps a neuron fed I/λ = r ∈ [0, 1] fires ⌊rT⌋ times, give or take the strict
    // threshold: its rate is within 1/T of r.
    for r in [0.1, 0.37, 0.8, 1.0] {
      let count = spikes(current: 2 * r, steps: 100).times.count
      #expect(abs(Double(count) / 100 - r) <= 0.01 + 1e-12, "rate \(count)/100 for \(r)")
    }
    #expect(spikes(current: 2 * 1.7, steps: 100).times.count == 100)
  }
}

@Suite struct MembraneConversionTests {
  @Test func maximaBecomeReLUNeuronsComputingTheSameFunction() throws {
    let (graph, inputs) = try fixture("keras3_seq_cnn")
    let decomposed = try GraphPasses.decompose(graph)
    let rewritten = try GraphPasses.maximaAsReLU(decomposed)
    #expect(decomposed.nodes.contains { $0.op == .binary(.maximum) })
    #expect(!rewritten.nodes.contains { $0.op == .binary(.maximum) })
    // Every non-affine node but the final softmax (left to the readout) is a ReLU: what a
    // membrane can compute.
    #expect(
      rewritten.nodes.filter { !$0.op.isAffine && $0.op != .softmax }.allSatisfy {
        $0.op == .activation(.relu)
      })
    let expected = decomposed.predict([inputs])[0].scalars
    let actual = rewritten.predict([inputs])[0].scalars
    for (a, b) in zip(actual, expected) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(a) vs \(b)") }
    let network = try SpikingNetwork(
      graph, dynamics: .integrateAndFire, normalization: .max, calibration: inputs)
    #expect(
      network.populations.allSatisfy { $0.dynamics == .integrateAndFire && $0.schedule == .constant(eta: 1) })
    #expect(network.populations.contains { $0.node.hasSuffix("/relu") })
  }

  @Test func aSpikeRoutedThroughASumReachesTheWeightsBeyondIt() throws {
    // In max(a, b) = a + ReLU(b − a) the ReLU's spikes go through the sum to the next
    // convolution: they cost its weights, not one operation.
    let (graph, inputs) = try fixture("keras3_seq_cnn")
    let network = try SpikingNetwork(
      graph, dynamics: .integrateAndFire, normalization: .max, calibration: inputs)
    let converted = network.graph
    let pooled = converted.nodes.first { $0.name == "max_pooling2d" }!
    #expect(pooled.op == .add)
    let relu = pooled.inputs[1]
    #expect(converted.node(relu)?.op == .activation(.relu))
    let beyond = Simulator.meanFanOut(of: "max_pooling2d", in: converted)
    #expect(beyond > 1)
    #expect(Simulator.meanFanOut(of: relu, in: converted) == beyond)
  }

  @Test func opsOtherThanReLUAreRefusedNamingTheNode() throws {
    // A functional MLP with GELU-free ops a membrane cannot compute: LayerNorm's steps.
    let (graph, inputs) = try fixture("keras3_func_mlp")
    let first = try GraphPasses.decompose(graph).nodes.first {
      !$0.op.isAffine && $0.op != .activation(.relu) && $0.op != .softmax
    }!
    #expect(
      throws: ConversionError.unsupportedByDynamics(
        node: first.name, op: first.op.kind, dynamics: .integrateAndFire)
    ) {
      try SpikingNetwork(graph, dynamics: .integrateAndFire, normalization: .max, calibration: inputs)
    }
    #expect(throws: ConversionError.self) {
      try SpikingNetwork(
        graph, dynamics: .integrateAndFire, normalization: .max, calibration: inputs, fuse: true)
    }
  }
}

@Suite(.needsFashionMNIST) struct MembraneSimulationTests {
  func network(reset: ResetMode = .subtract) throws -> SpikingNetwork {
    try SpikingNetwork(
      converting: SimulationTests.model,
      settings: ConversionSettings(
        dynamics: .integrateAndFire, calibrationImages: 500,
        neuron: MembraneIntegrateAndFire.Membrane(reset: reset).parameters),
      calibration: SimulationTests.calibration)
  }

  @Test func theMembraneNetworkApproachesTheANNAndTheRateFormIF() throws {
    let images = try SimulationTests.test.images.rows(0..<200)
    let labels = try Array(SimulationTests.test.labels[0..<200])
    let membrane = try Simulator.run(try network(), images: images, labels: labels, timesteps: [16, 64, 256])
    let rate = try Simulator.run(
      try SpikingNetwork(
        SimulationTests.model, dynamics: .subgradient, normalization: .max,
        calibration: SimulationTests.calibration),
      images: images, labels: labels, timesteps: [16, 64, 256])
    // Every population's error (its rate λ·Σs/t against the ANN) falls with T.
    for population in membrane.populations {
      #expect(population.meanAbsError[2] < population.meanAbsError[0] / 4, "\(population.meanAbsError)")
    }
    #expect(
      membrane.accuracy[2] >= membrane.annAccuracy - 0.02, "\(membrane.accuracy) vs \(membrane.annAccuracy)")
    #expect(abs(membrane.accuracy[2] - rate.accuracy[2]) <= 0.02, "\(membrane.accuracy) vs \(rate.accuracy)")
    // Binary spikes: no neuron fires more than once a step.
    for population in membrane.populations {
      #expect(population.spikesPerNeuronPerStep.allSatisfy { $0 <= 1 })
    }
  }

  @Test func resetToZeroLosesChargeAndLagsSubtraction() throws {
    let images = try SimulationTests.test.images.rows(0..<100)
    let labels = try Array(SimulationTests.test.labels[0..<100])
    let subtract = try Simulator.run(try network(), images: images, labels: labels, timesteps: [64])
    let zero = try Simulator.run(try network(reset: .zero), images: images, labels: labels, timesteps: [64])
    // The charge a reset to zero throws away makes every population fire less than its target.
    for (s, z) in zip(subtract.populations, zero.populations) {
      #expect(z.spikesPerNeuronPerStep[0] < s.spikesPerNeuronPerStep[0], "\(s.name)")
      #expect(z.meanAbsError[0] > s.meanAbsError[0], "\(s.name)")
    }
  }

  @Test func rateEncodedInputSendsSpikesInAMembraneNetwork() throws {
    let images = try SimulationTests.test.images.rows(0..<50)
    let labels = try Array(SimulationTests.test.labels[0..<50])
    let result = try Simulator.run(
      try network(), images: images, labels: labels, timesteps: [256], input: .rate)
    #expect(result.populations[0].op == "input" && result.populations[0].dynamics == .integrateAndFire)
    #expect(
      result.populations[0].meanAbsError[0] <= 1.0 / 256 + 1e-6, "\(result.populations[0].meanAbsError)")
    #expect(result.accuracy[0] >= result.annAccuracy - 0.06)
  }
}

/// Membrane neurons compute a ReLU capped at `m` (ReLU6) with their own ceiling, λ ≤ m.
@Suite struct CappedReLUMembraneTests {
  /// Dense(3 → 3, identity) then ReLU capped at `cap`, read out by a Dense of ones.
  func network(cap: Double) throws -> Graph {
    var kernel = [Float](repeating: 0, count: 9)
    for i in 0..<3 { kernel[i * 3 + i] = 1 }
    return try Graph(
      name: "capped",
      nodes: [
        Node(name: "x", op: .input(shape: [3])),
        Node(
          name: "dense", op: .dense(units: 3, useBias: false), inputs: ["x"],
          parameters: ["kernel": Tensor(shape: [3, 3], scalars: kernel)]),
        Node(
          name: "act", op: .activation(.clippedRelu(maxValue: cap, negativeSlope: 0, threshold: 0)),
          inputs: ["dense"]),
        Node(
          name: "out", op: .dense(units: 1, useBias: false), inputs: ["act"],
          parameters: ["kernel": Tensor(repeating: 1, shape: [3, 1])]),
      ])
  }

  @Test(arguments: [Dynamics.integrateAndFire, .burst])
  func aCappedReLUConvertsAndItsScaleStaysUnderTheCap(dynamics: Dynamics) throws {
    // Inputs up to 9 under a cap of 6: calibrated λ is 6, the ReLU6's largest output.
    let inputs = Tensor<Float>(shape: [4, 3], scalars: [0.5, 3, 9, -1, 2.5, 6.5, 4, 0, 1, 7, 5.5, -2])
    let calibrated = try SpikingNetwork(
      try network(cap: 6), dynamics: dynamics, normalization: .max, granularity: .layer, calibration: inputs)
    #expect(calibrated.populations.map(\.scales) == [[6]])
    // Without normalization λ = 1 is under the cap and stays; a cap of 0.5 lowers it.
    let lowered = try SpikingNetwork(try network(cap: 0.5), dynamics: dynamics, normalization: .none)
    #expect(lowered.populations.map(\.scales) == [[0.5]])
    // The rates reach the capped outputs: Σ min(max(x, 0), 6) per image.
    let result = try Simulator.run(
      calibrated, images: inputs, labels: [0, 0, 0, 0], settings: SimulationSettings(timesteps: [64]),
      keepReadout: true)
    let expected: [Float] = [0.5 + 3 + 6, 2.5 + 6, 4 + 1, 6 + 5.5]
    let readout = try #require(result.readout)
    for (image, target) in expected.enumerated() {
      #expect(abs(readout[image] / 64 - target) <= 3 * 6 / 64 + 1e-4, "\(image): \(readout[image] / 64)")
    }
    // A scale above the cap is refused when the network is assembled.
    let spec = calibrated.populations[0]
    #expect(throws: SpikingNetworkError.self) {
      try SpikingNetwork(
        graph: calibrated.graph,
        populations: [
          PopulationSpec(
            node: spec.node, target: spec.target, dynamics: spec.dynamics, schedule: spec.schedule,
            scales: [7])
        ], readout: "out")
    }
  }

  @Test func aLeakyOrShiftedCapIsNotAThreshold() {
    #expect(
      !MembraneIntegrateAndFire.approximates(
        .unary(.clippedRelu(maxValue: 6, negativeSlope: 0.1, threshold: 0))))
    #expect(
      !BurstIntegrateAndFire.approximates(.unary(.clippedRelu(maxValue: 6, negativeSlope: 0, threshold: 1))))
    #expect(
      BurstIntegrateAndFire.approximates(.unary(.clippedRelu(maxValue: nil, negativeSlope: 0, threshold: 0))))
    #expect(MembraneIntegrateAndFire.largestScale(for: .unary(.relu)) == nil)
  }
}
