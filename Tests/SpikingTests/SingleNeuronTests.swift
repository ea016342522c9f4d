import Foundation
import Graph
import ModelIO
import Spiking
import Tensor
import TestSupport
import Testing

/// One neuron (or a few) driven by a constant input: each dynamics converges to its target with
/// the error bound docs/dynamics.md states.
@Suite struct SingleNeuronTests {
  /// Runs `steps` steps with constant inputs and returns every step's output estimate.
  func run(
    _ dynamics: Dynamics, _ target: NeuronTarget, _ a: [Double], _ b: [Double]? = nil, steps: Int,
    schedule: StepSchedule? = nil, scale: Double = 1
  ) -> [[Double]] {
    var population = Population<Double>(
      dynamics: dynamics, schedule: schedule, target: target, scale: scale, count: a.count)
    var output = [Double](repeating: 0, count: a.count)
    var trace = [[Double]]()
    for _ in 0..<steps {
      a.withUnsafeBufferPointer { first in
        output.withUnsafeMutableBufferPointer { out in
          if let b {
            b.withUnsafeBufferPointer { population.advance(first: first, second: $0, output: out) }
          } else {
            population.advance(first: first, output: out)
          }
        }
      }
      trace.append(output)
    }
    return trace
  }

  static let unary: [UnaryFunction] = [
    .relu, .leakyRelu(slope: 0.1), .gelu(.exact), .gelu(.sigmoid), .silu, .hardSwish, .tanh, .sigmoid,
    .softplus, .elu(alpha: 1),
    .abs, .square, .exp,
  ]
  static let inputs: [Double] = [-1.3, -0.4, 0, 0.2, 0.55, 0.9]

  @Test(arguments: unary)
  func signGDReachesEveryUnaryTargetGeometrically(function: UnaryFunction) {
    // Targets within the reachable range (Σ η < 3); error after T steps at most η_{T−1}.
    let inputs = Self.inputs.filter { abs(function($0)) < 2.5 }
    let steps = 64
    let trace = run(.signGD, .unary(function), inputs, steps: steps)
    let bound = StepSchedule.geometric(eta0: 0.15, gamma: 0.95).eta(steps - 1)
    for (index, x) in inputs.enumerated() {
      let error = abs(trace[steps - 1][index] - function(x))
      #expect(error <= bound, "\(function)(\(x)): error \(error) > \(bound)")
    }
  }

  @Test(arguments: [BinaryFunction.maximum, .product, .division, .normalize(epsilon: 1e-3)])
  func signGDReachesTwoInputTargets(function: BinaryFunction) {
    let a: [Double] = [0.3, -0.5, 1.2, 0.8]
    let b: [Double] = [0.6, 0.9, 1.5, 2.0]
    let steps = 64
    let trace = run(.signGD, .binary(function), a, b, steps: steps)
    for i in a.indices {
      let error = abs(trace[steps - 1][i] - function(a[i], b[i]))
      #expect(error <= 0.15 * pow(0.95, Double(steps - 2)), "\(function)(\(a[i]), \(b[i])): error \(error)")
    }
  }

  @Test func signGDErrorFallsGeometricallyAndIFErrorAsOneOverT() {
    let x = [0.37]
    let signGD = run(.signGD, .unary(.relu), x, steps: 128).map { abs($0[0] - 0.37) }
    let integrate = run(.subgradient, .unary(.relu), x, steps: 128).map { abs($0[0] - 0.37) }
    for t in [32, 64, 128] {
      #expect(signGD[t - 1] <= 0.15 * pow(0.95, Double(t - 2)))
      // IF: |v_T − x| ≤ 1/(T+1) for a constant input in [0, 1].
      #expect(integrate[t - 1] <= 1 / Double(t + 1))
    }
    // By T = 128 the geometric schedule has left the IF neuron's O(1/T) far behind.
    #expect(signGD[127] < integrate[127])
  }

  @Test(arguments: unary)
  func subgradientConvergesToTheClippedTargetAsOneOverT(function: UnaryFunction) {
    let steps = 200
    let trace = run(.subgradient, .unary(function), Self.inputs, steps: steps)
    for (index, x) in Self.inputs.enumerated() {
      let goal = min(max(function(x), 0), 1)
      let error = abs(trace[steps - 1][index] - goal)
      #expect(error <= 1 / Double(steps + 1) + 1e-12, "\(function)(\(x)): error \(error)")
    }
  }

  /// The signed IF neuron reaches negative targets too: it converges to `clip(g, −1, 1)` with an
  /// error of at most 2/(T+1) (a step moves `v` by `(±1 − v)/(t+1)`), and a zero target never
  /// makes it spike.
  @Test(arguments: unary)
  func signedSubgradientConvergesToTheSignedClippedTarget(function: UnaryFunction) {
    let steps = 200
    let trace = run(.signedSubgradient, .unary(function), Self.inputs, steps: steps)
    for (index, x) in Self.inputs.enumerated() {
      let goal = min(max(function(x), -1), 1)
      let error = abs(trace[steps - 1][index] - goal)
      #expect(error <= 2 / Double(steps + 1) + 1e-12, "\(function)(\(x)): error \(error)")
    }
    var silent = Population<Double>(dynamics: .signedSubgradient, target: .unary(function), count: 1)
    var output = [0.0]
    for _ in 0..<10 {
      [0.0].withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { silent.advance(first: input, output: $0) }
      }
    }
    if function(0) == 0 { #expect(silent.spikeCount == 0 && output == [0], "\(function)") }
  }

  @Test func normalizationScaleExtendsTheRange() {
    // ReLU(4) is out of the IF neuron's [0, 1] and of signGD's reach (< 3) without a scale.
    let plain = run(.subgradient, .unary(.relu), [4], steps: 100).last![0]
    #expect(plain <= 1)
    let scaled = run(.subgradient, .unary(.relu), [4], steps: 100, scale: 5).last![0]
    #expect(abs(scaled - 4) <= 5.0 / 101)
    let signScaled = run(.signGD, .unary(.relu), [4], steps: 64, scale: 5).last![0]
    #expect(abs(signScaled - 4) <= 5 * 0.15 * pow(0.95, 62))
  }
}

/// The IF neuron written as a membrane — `u_t = u_{t−1} + I_t; s_t = [u_t > θ]; u_t −= θ s_t`
/// with θ = 1 and `u_0 = θ` — emits the same spike train as the subgradient iteration for a
/// constant input (docs/dynamics.md, "Integrate-and-fire"), which is what makes it the integrate-and-fire neuron.
@Suite struct MembraneEquivalenceTests {
  func subgradientSpikes(_ input: Double, steps: Int) -> [Double] {
    var population = Population<Double>(dynamics: .subgradient, target: .unary(.identity), count: 1)
    var out = [0.0]
    var spike = [0.0]
    var train = [Double]()
    for _ in 0..<steps {
      [input].withUnsafeBufferPointer { x in
        out.withUnsafeMutableBufferPointer { o in
          spike.withUnsafeMutableBufferPointer { population.advance(first: x, output: o, spikes: $0) }
        }
      }
      train.append(spike[0])
    }
    return train
  }

  func membraneSpikes(_ input: Double, steps: Int) -> [Double] {
    var u = 1.0
    return (0..<steps).map { _ in
      u += input
      let s: Double = u > 1 ? 1 : 0
      u -= s
      return s
    }
  }

  @Test func identicalSpikeTrainsForConstantInputs() {
    var rng = SeededRandom(seed: 21)
    let inputs: [Double] = [0, 0.25, 0.5, 0.75, 1, 0.1, 1.0 / 3] + rng.uniform(40, in: 0.0...1.0)
    for x in inputs {
      let a = subgradientSpikes(x, steps: 256)
      let b = membraneSpikes(x, steps: 256)
      if a != b {
        // Allowed only at floating-point ties: the two forms compare tI > S and I > S/t.
        let first = a.indices.first { a[$0] != b[$0] }!
        let count = a[..<first].reduce(0, +)
        let t = Double(first + 1)
        #expect(abs(t * x - count) < 1e-9, "input \(x): trains differ at step \(first + 1) away from a tie")
      }
    }
  }
}

/// The comparison at a tie is the one docs/dynamics.md states — signGD fires when the estimate
/// equals the target (`≥`), the IF neuron does not (`H(0) = 0`) — in each of the population's
/// update paths: one shared λ, one λ per position, and with the spikes written out; for a target
/// the update computes in the same pass (ReLU) and one it evaluates first (square).
@Suite struct TieTests {
  enum Path: CaseIterable { case sharedScale, scalePerPosition, spikesWritten }

  static let cases: [(Path, UnaryFunction)] = Path.allCases.flatMap { path in
    [UnaryFunction.relu, .square].map { (path, $0) }
  }

  /// One step of two neurons whose target equals their initial estimate `v₀ = 0` exactly;
  /// returns their spikes and output estimates.
  func firstStepAtATie(_ dynamics: Dynamics, _ path: Path, _ function: UnaryFunction) -> (
    spikes: [Double], output: [Double]
  ) {
    var population = Population<Double>(
      dynamics: dynamics, target: .unary(function), scales: path == .sharedScale ? [1] : [1, 1], count: 2)
    let input: [Double] = function == .relu ? [-1, 0] : [0, -0.0]  // the target is exactly 0 for both
    var output = [Double](repeating: .nan, count: 2)
    var spikes = [Double](repeating: .nan, count: 2)
    input.withUnsafeBufferPointer { x in
      output.withUnsafeMutableBufferPointer { out in
        if path == .spikesWritten {
          spikes.withUnsafeMutableBufferPointer { population.advance(first: x, output: out, spikes: $0) }
        } else {
          population.advance(first: x, output: out)
        }
      }
    }
    if path != .spikesWritten { spikes = Array(repeating: Double(population.spikeCount) / 2, count: 2) }
    return (spikes, output)
  }

  @Test(arguments: cases)
  func signGDFiresWhenTheEstimateEqualsTheTarget(path: Path, function: UnaryFunction) {
    let (spikes, output) = firstStepAtATie(.signGD, path, function)
    let eta = Dynamics.signGD.defaultSchedule.eta(1)
    #expect(spikes == [1, 1], "\(path), \(function)")
    #expect(output == [-eta, -eta], "\(path), \(function): a spike steps the estimate down")
  }

  @Test(arguments: cases)
  func integrateAndFireStaysSilentWhenTheTargetEqualsTheEstimate(path: Path, function: UnaryFunction) {
    for dynamics in [Dynamics.subgradient, .signedSubgradient] {
      let (spikes, output) = firstStepAtATie(dynamics, path, function)
      #expect(spikes == [0, 0], "\(dynamics), \(path), \(function)")
      #expect(output == [0, 0], "\(dynamics), \(path), \(function)")
    }
  }
}

/// The spikes the update loop writes weighted by `η_t·λ` are those of the 0/1 spike output,
/// and writing them changes nothing else.
@Suite struct WeightedSpikeTests {
  @Test(
    arguments: [Dynamics.subgradient, .signGD, .signedSubgradient],
    [NeuronTarget.unary(.relu), .unary(.square), .unary(.identity), .unary(.tanh)])
  func weightedSpikesAreEtaTimesLambdaTimesSpikes(dynamics: Dynamics, target: NeuronTarget) {
    for scales in [[Float(0.7)], [0.5, 2, 1.25]] {
      let count = 12
      var plain = Population<Float>(dynamics: dynamics, target: target, scales: scales, count: count)
      var weighted = plain
      var random = SeededRandom(seed: 21)
      for step in 1...20 {
        let input: [Float] = random.uniform(count, in: -1...2)
        var plainOutput = [Float](repeating: 0, count: count)
        var weightedOutput = plainOutput
        var spikes = plainOutput
        var weights = [Float](repeating: .nan, count: count)
        input.withUnsafeBufferPointer { x in
          plainOutput.withUnsafeMutableBufferPointer { out in
            spikes.withUnsafeMutableBufferPointer { plain.advance(first: x, output: out, spikes: $0) }
          }
          weightedOutput.withUnsafeMutableBufferPointer { out in
            weights.withUnsafeMutableBufferPointer {
              weighted.advance(first: x, output: out, weightedSpikes: $0)
            }
          }
        }
        let eta = Float(plain.schedule.eta(step))
        #expect(weightedOutput == plainOutput, "\(dynamics), \(target), step \(step)")
        #expect(weighted.spikeCount == plain.spikeCount)
        #expect(
          weights == spikes.indices.map { spikes[$0] * (eta * scales[$0 % scales.count]) },
          "\(dynamics), \(target), step \(step)")
      }
    }
  }
}

/// The adaptive schedule: a step per neuron that shrinks only when the spike changes.
@Suite struct AdaptiveScheduleTests {
  /// A target of 2 for the first 40 steps (what a deep neuron sees while the populations before
  /// it settle), then 0.3: the geometric neuron reaches 2, and has too little step left to come
  /// back (it stays above 1.6); the adaptive one has shrunk its step only at its ~20 overshoots,
  /// walks back and settles at 0.3. Both are within their step of 2 before the change.
  @Test func aNeuronWithItsOwnStepFollowsATargetThatMovesLate() {
    func trace(_ schedule: StepSchedule) -> [Double] {
      var population = Population<Double>(
        dynamics: .signGD, schedule: schedule, target: .unary(.identity), scale: 1, count: 3)
      var output = [Double](repeating: 0, count: 3)
      var values = [Double]()
      for t in 1...300 {
        let input = [Double](repeating: t <= 40 ? 2 : 0.3, count: 3)
        input.withUnsafeBufferPointer { first in
          output.withUnsafeMutableBufferPointer { population.advance(first: first, output: $0) }
        }
        values.append(output[0])
      }
      return values
    }
    let geometric = trace(.geometric(eta0: 0.15, gamma: 0.95))
    let adaptive = trace(.adaptive(eta0: 0.15, gamma: 0.95))
    #expect(abs(geometric[39] - 2) < 0.05 && abs(adaptive[39] - 2) < 0.1)
    #expect(geometric[299] > 1.6)
    #expect(abs(adaptive[99] - 0.3) < 0.01, "\(adaptive[99])")
    #expect(adaptive[280...].allSatisfy { abs($0 - 0.3) < 1e-3 })
  }

  /// Only signGD neurons take a step of their own.
  @Test func theAdaptiveScheduleIsForSignGDOnly() throws {
    let graph = try OutputPopulationTests.graph()
    let network = try SpikingNetwork(graph, dynamics: .signGD)
    let integrate = network.populations.map {
      PopulationSpec(
        node: $0.node, target: $0.target, dynamics: .subgradient,
        schedule: .adaptive(eta0: 0.15, gamma: 0.95), scales: $0.scales)
    }
    #expect(throws: SpikingNetworkError.self) { try network.replacing(populations: integrate) }
  }
}

/// A population's input offsets (``PopulationSpec/offsets``) act as the same population fed the
/// shifted input, bit for bit, for rate and membrane neurons; a network refuses offsets that do
/// not fit.
@Suite struct InputOffsetTests {
  @Test(arguments: [Dynamics.signGD, .subgradient, .integrateAndFire, .burst])
  func offsetsShiftTheInput(dynamics: Dynamics) {
    // 2 images × 6 neurons, offsets per inner position of 3.
    let input: [Float] = [0.2, -0.4, 1.3, 0.05, 0.7, -0.1, 0.9, 0.0, -0.3, 0.45, 0.33, 1.1]
    let offsets: [Float] = [0.1, -0.25, 0.3]
    let shifted = input.enumerated().map { $1 + offsets[$0 % 3] }
    var withOffsets = Population<Float>(
      dynamics: dynamics, target: .unary(.relu), scales: [1.5], count: 12, offsets: offsets)
    var fedShifted = Population<Float>(dynamics: dynamics, target: .unary(.relu), scales: [1.5], count: 12)
    var a = [Float](repeating: 0, count: 12)
    var b = a
    for _ in 0..<20 {
      input.withUnsafeBufferPointer { x in
        a.withUnsafeMutableBufferPointer { withOffsets.advance(first: x, output: $0) }
      }
      shifted.withUnsafeBufferPointer { x in
        b.withUnsafeMutableBufferPointer { fedShifted.advance(first: x, output: $0) }
      }
      #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    }
    #expect(withOffsets.spikeCount == fedShifted.spikeCount && withOffsets.spikeCount > 0)
  }

  @Test func offsetsThatDoNotFitAreRefused() throws {
    let graph = try OutputPopulationTests.graph()
    let network = try SpikingNetwork(graph, dynamics: .signGD)
    func shifting(_ offsets: [Double]) throws -> SpikingNetwork {
      try network.replacing(
        populations: network.populations.map { $0.node == "relu" ? $0.with(offsets: offsets) : $0 })
    }
    #expect(throws: SpikingNetworkError.self) { try shifting([Double](repeating: 0.1, count: 3)) }
    #expect(throws: SpikingNetworkError.self) { try shifting([.nan]) }
    #expect(try shifting([0.2]).populations[0].offsets == [0.2])
    #expect(try shifting((0..<8).map(Double.init)).populations[0].offsets.count == 8)
  }

  /// A two-input neuron has no one input to shift.
  @Test func twoInputTargetsTakeNoOffsets() throws {
    let model = try KerasModelReader.read(repositoryRoot.appendingPathComponent("models/cnn.h5").path)
    let network = try SpikingNetwork(model, dynamics: .signGD)
    let maximum = try #require(network.populations.first { $0.target.arity == 2 })
    #expect {
      try network.replacing(
        populations: network.populations.map { $0.node == maximum.node ? $0.with(offsets: [0.1]) : $0 })
    } throws: { error in
      "\(error)".contains(maximum.node) && "\(error)".contains("two-input")
    }
  }
}
