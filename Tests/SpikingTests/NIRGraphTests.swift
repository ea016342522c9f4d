import Spiking
import Testing

/// NIR's discrete-time semantics as the toolkit runs NIR graphs, on graphs small enough to
/// follow by hand (docs/nir.md, "Running NIR graphs"), and its refusals.
private typealias Raw = NIRGraph.RawNode

private func numbers(_ values: [Double], shape: [Int]? = nil) -> NIRGraph.Value {
  .numbers(shape: shape ?? [values.count], values: values)
}

private func input(_ shape: [Int]) -> Raw {
  Raw(name: "in", type: "Input", parameters: ["shape": numbers(shape.map(Double.init))])
}

private let output = Raw(name: "out", type: "Output", parameters: [:])

struct NIRGraphTests {
  /// One image through `nodes` (between `in` and `out`, chained in order) for `steps` steps.
  fileprivate static func run(_ nodes: [Raw], inputShape: [Int], image: [Float], steps: Int, dt: Double = 1)
    throws -> NIRSimulationResult
  {
    let graph = try chain(nodes, inputShape: inputShape, dt: dt)
    return try Simulator.run(
      graph, images: image, labels: [0], timesteps: [steps], batchSize: 1, threads: 1, keepReadout: true)
  }

  fileprivate static func chain(_ nodes: [Raw], inputShape: [Int], dt: Double = 1) throws -> NIRGraph {
    let names = ["in"] + nodes.map(\.name) + ["out"]
    return try NIRGraph(
      nodes: [input(inputShape)] + nodes + [output], edges: Array(zip(names, names.dropFirst())), dt: dt)
  }

  @Test func anIntegrateAndFireNeuronResetsToItsValueOrBySubtraction() throws {
    // Input 3/8 every step, threshold 1: reset to 0 it fires at t = 3, 6, …, 18 (6 spikes in
    // 20 steps); reset by subtraction it keeps the excess and fires ⌊20 · 3/8⌋ = 7 times. Every
    // value is a multiple of 1/8, exact in binary.
    for (metadata, expected) in [([String: String](), 6.0), (["reset_mode": "subtract"], 7.0)] {
      let neuron = Raw(
        name: "if", type: "IF", parameters: ["r": numbers([1]), "v_threshold": numbers([1])],
        metadata: metadata)
      let result = try Self.run([neuron], inputShape: [1], image: [0.375], steps: 20)
      #expect(result.populations.map(\.spikes) == [[expected]], "\(metadata)")
      #expect(result.readout == [Float(expected)])
    }
  }

  /// `metadata/initial_membrane` (this toolkit's export) starts the membranes there: input 3/8,
  /// threshold 1, reset by subtraction, started at 1/2 — the counts round instead of truncating:
  /// ⌊18 · 3/8 + 1/2⌋ = 7 spikes in 18 steps where at rest there are ⌊18 · 3/8⌋ = 6; per neuron,
  /// two neurons started at 0 and 1/2 fire 6 and 7 times. A value that is no number is refused,
  /// naming it.
  @Test func aStartingMembraneFromTheMetadataIsHonoured() throws {
    for (start, shape, expected) in [("0.5", [1], [7.0]), ("0, 0.5", [2], [13.0])] {
      let neuron = Raw(
        name: "if", type: "IF", parameters: ["r": numbers([1]), "v_threshold": numbers([1])],
        metadata: ["reset_mode": "subtract", "initial_membrane": start])
      let image = [Float](repeating: 0.375, count: shape[0])
      let result = try Self.run([neuron], inputShape: shape, image: image, steps: 18)
      #expect(result.populations.map(\.spikes) == [expected], "\(start)")
    }
    let bad = Raw(
      name: "if", type: "IF", parameters: ["r": numbers([1]), "v_threshold": numbers([1])],
      metadata: ["initial_membrane": "half"])
    #expect {
      _ = try Self.chain([bad], inputShape: [1])
    } throws: { error in
      "\(error)".contains("'if'") && "\(error)".contains("initial_membrane = \"half\" is not one number")
    }
  }

  @Test func aLeakyIntegratorsMembraneIsItsOutput() throws {
    // v ← v + (0 − v + 1)/2: 1/2, 3/4, 7/8; the readout sums them: 17/8.
    let neuron = Raw(
      name: "li", type: "LI",
      parameters: ["tau": numbers([2]), "r": numbers([1]), "v_leak": numbers([0])])
    let result = try Self.run([neuron], inputShape: [1], image: [1], steps: 3)
    #expect(result.readout == [2.125])
    #expect(result.populations.isEmpty)
  }

  /// snnTorch's `Leaky(beta = 0.9)` as it exports it for dt = 10⁻⁴: τ = dt/(1 − β) = 10⁻³,
  /// r = τ/dt = 10. Stepped with dt = 10⁻⁴ the membrane follows v ← 0.9·v + I: with I = 1,
  /// 1, 1.9, 2.71 — over the threshold 2.5 at the third step, then reset to 0 and again —
  /// so 10 steps give spikes at t = 3, 6, 9. Stepped with dt = 1 (dt/τ = 1000) the membrane
  /// jumps to 10⁴ at once and fires every step, and the graph says so.
  @Test func theStepScalesTimeConstantsAsNIRDefinesThem() throws {
    let leaky = Raw(
      name: "lif", type: "LIF",
      parameters: [
        "tau": numbers([1e-3]), "r": numbers([10]), "v_leak": numbers([0]), "v_threshold": numbers([2.5]),
      ])
    let stepped = try Self.run([leaky], inputShape: [1], image: [1], steps: 10, dt: 1e-4)
    #expect(stepped.populations.map(\.spikes) == [[3]])
    #expect(try Self.chain([leaky], inputShape: [1], dt: 1e-4).warnings.isEmpty)
    // The membrane itself, as an LI: 1 + 1.9 + 2.71 + 3.439 over four steps.
    let integrator = Raw(
      name: "li", type: "LI",
      parameters: ["tau": numbers([1e-3]), "r": numbers([10]), "v_leak": numbers([0])])
    let trace = try Self.run([integrator], inputShape: [1], image: [1], steps: 4, dt: 1e-4)
    #expect(abs(trace.readout![0] - 9.049) < 1e-5)
    let coarse = try Self.run([leaky], inputShape: [1], image: [1], steps: 10)
    #expect(coarse.populations.map(\.spikes) == [[10]])
    let warnings = try Self.chain([leaky], inputShape: [1]).warnings
    #expect(warnings.count == 1 && warnings[0].contains("node 'lif'") && warnings[0].contains("dt/τ = 1000"))
    // IF's factor is dt·r: SpikingJelly's IF (r = 1/dt = 10⁴) adds its input once per step.
    let spikingJelly = Raw(
      name: "if", type: "IF", parameters: ["r": numbers([1e4]), "v_threshold": numbers([1])])
    let fired = try Self.run([spikingJelly], inputShape: [1], image: [0.375], steps: 20, dt: 1e-4)
    #expect(fired.populations.map(\.spikes) == [[6]])
  }

  /// τ = ∞ is a neuron without leak (snnTorch writes β = 1 as τ = dt/(1 − β) = ∞ with
  /// r = τ/dt = ∞): it adds its input each step, v ← v + I, whatever the step.
  @Test func anInfiniteTimeConstantMeansNoLeak() throws {
    let perfect = Raw(
      name: "lif", type: "LIF",
      parameters: [
        "tau": numbers([.infinity]), "r": numbers([.infinity]), "v_leak": numbers([0]),
        "v_threshold": numbers([1]),
      ])
    for dt in [1, 1e-4] {
      let result = try Self.run([perfect], inputShape: [1], image: [0.375], steps: 20, dt: dt)
      #expect(result.populations.map(\.spikes) == [[6]], "dt \(dt)")
    }
    // A current-based integrator without leak on either state: i = 1, 2, 3; v = 1, 3, 6.
    let cuba = Raw(
      name: "cuba", type: "CubaLI",
      parameters: [
        "tau_mem": numbers([.infinity]), "tau_syn": numbers([.infinity]), "r": numbers([.infinity]),
        "w_in": numbers([.infinity]), "v_leak": numbers([0]),
      ])
    #expect(try Self.run([cuba], inputShape: [1], image: [1], steps: 3).readout == [10])
    // τ = ∞ with a finite r would let no input in.
    let inert = Raw(
      name: "inert", type: "LI",
      parameters: ["tau": numbers([.infinity]), "r": numbers([1]), "v_leak": numbers([0])])
    let error = #expect(throws: NIRGraphError.self) { try Self.chain([inert], inputShape: [1]) }
    #expect("\(error!)".contains("node 'inert'") && "\(error!)".contains("'r' is finite"), "\(error!)")
  }

  @Test func aPerChannelScaleBroadcastsOverTheImage() throws {
    let scale = Raw(name: "scale", type: "Scale", parameters: ["scale": numbers([2, 3], shape: [2, 1, 1])])
    let result = try Self.run([scale], inputShape: [2, 1, 2], image: [1, 1, 1, 1], steps: 2)
    #expect(result.readout == [4, 4, 6, 6])
  }

  @Test func aDepthwiseConvolutionRunsChannelByChannel() throws {
    // Channel 0 (1 2 3) with kernel (1 10), channel 1 (4 5 6) with (2 0.5) and bias 1.
    let convolution = Raw(
      name: "conv", type: "Conv2d",
      parameters: [
        "weight": numbers([1, 10, 2, 0.5], shape: [2, 1, 1, 2]), "bias": numbers([0, 1]),
        "stride": numbers([1]),
        "padding": numbers([0]), "dilation": numbers([1]), "groups": numbers([2], shape: []),
      ])
    let result = try Self.run([convolution], inputShape: [2, 1, 3], image: [1, 2, 3, 4, 5, 6], steps: 1)
    #expect(result.readout == [21, 32, 11.5, 14])
  }

  @Test func theReadoutsArgMaxIsThePrediction() throws {
    let graph = try NIRGraph(nodes: [input([3]), output], edges: [("in", "out")])
    let result = try Simulator.run(
      graph, images: [0, 2, 1, 5, 0, 1], labels: [1, 2], timesteps: [1, 4], batchSize: 2)
    #expect(result.accuracy == [0.5, 0.5])
  }

  @Test func edgesIntoOneNodeAreAdded() throws {
    let a = Raw(name: "a", type: "Scale", parameters: ["scale": numbers([2])])
    let b = Raw(name: "b", type: "Scale", parameters: ["scale": numbers([-0.5])])
    let graph = try NIRGraph(
      nodes: [input([1]), a, b, output], edges: [("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")])
    let result = try Simulator.run(
      graph, images: [4], labels: [0], timesteps: [3], batchSize: 1, keepReadout: true)
    #expect(result.readout == [18])
  }

  /// An edge that closes a cycle brings its source's output of the previous step (0 at the
  /// first): an integrator fed the input 1 and, through a Scale of 1/2, its own last output.
  /// `s` runs before `i` (the walk back from `i` meets `i` again), so `i` gets 1 + 0, 1 + 1/2,
  /// 1 + 5/4 and holds 1, 5/2, 19/4; the readout sums them: 33/4.
  @Test func aRecurrentEdgeBringsThePreviousStep() throws {
    let integrator = Raw(name: "i", type: "I", parameters: ["r": numbers([1])])
    let feedback = Raw(name: "s", type: "Scale", parameters: ["scale": numbers([0.5])])
    let graph = try NIRGraph(
      nodes: [input([1]), integrator, feedback, output],
      edges: [("in", "i"), ("i", "s"), ("s", "i"), ("i", "out")])
    #expect(graph.nodes.map(\.name) == ["in", "s", "i", "out"])
    let result = try Simulator.run(
      graph, images: [1], labels: [0], timesteps: [3], batchSize: 1, keepReadout: true)
    #expect(result.readout == [8.25])
  }

  @Test(
    arguments: [
      (
        [input([1]), Raw(name: "in2", type: "Input", parameters: ["shape": numbers([1])]), output],
        [("in", "out")], "2 Input nodes"
      ),
      (
        [
          input([4]),
          Raw(name: "fc", type: "Linear", parameters: ["weight": numbers([1, 1], shape: [1, 2])]), output,
        ],
        [("in", "out")], "node 'fc': no edge leads into this Linear node"
      ),
      (
        [
          input([4]),
          Raw(
            name: "conv", type: "Conv2d",
            parameters: [
              "weight": numbers([1], shape: [1, 1, 1, 1]), "bias": numbers([0]), "stride": numbers([1]),
              "padding": numbers([0]), "dilation": numbers([1]), "groups": numbers([1]),
            ]),
          output,
        ], [("in", "conv"), ("conv", "out")], "node 'conv': needs a C×H×W input, got 4"
      ),
      (
        [input([2, 3]), Raw(name: "s", type: "Scale", parameters: ["scale": numbers([1, 2])]), output],
        [("in", "s"), ("s", "out")], "node 's': 'scale' has shape 2, which does not fit the node's input 2×3"
      ),
      (
        [input([2]), Raw(name: "x", type: "IF", parameters: ["r": numbers([1, 1])]), output],
        [("in", "x"), ("x", "out")], "node 'x': IF needs the parameter 'v_threshold'"
      ),
    ] as [([Raw], [(String, String)], String)])
  fileprivate func badGraphsAreRefusedNamingTheNode(nodes: [Raw], edges: [(String, String)], expected: String)
    throws
  {
    let error = #expect(throws: NIRGraphError.self) { try NIRGraph(nodes: nodes, edges: edges) }
    #expect("\(error!)".contains(expected), "\(error!)")
  }
}
