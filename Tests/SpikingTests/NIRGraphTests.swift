import Spiking
import Testing

/// The NIR runtime's discrete-time semantics on graphs small enough to follow by hand
/// (docs/nir.md, "Running NIR graphs"), and its refusals.
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
  fileprivate static func run(_ nodes: [Raw], inputShape: [Int], image: [Float], steps: Int) throws
    -> NIRSimulationResult
  {
    let names = ["in"] + nodes.map(\.name) + ["out"]
    let graph = try NIRGraph(
      nodes: [input(inputShape)] + nodes + [output], edges: Array(zip(names, names.dropFirst())))
    return try NIRSimulator.run(
      graph, images: image, labels: [0], timesteps: [steps], batchSize: 1, threads: 1, keepReadout: true)
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

  @Test func aLeakyIntegratorsMembraneIsItsOutput() throws {
    // v ← v + (0 − v + 1)/2: 1/2, 3/4, 7/8; the readout sums them: 17/8.
    let neuron = Raw(
      name: "li", type: "LI",
      parameters: ["tau": numbers([2]), "r": numbers([1]), "v_leak": numbers([0])])
    let result = try Self.run([neuron], inputShape: [1], image: [1], steps: 3)
    #expect(result.readout == [2.125])
    #expect(result.populations.isEmpty)
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
    let result = try NIRSimulator.run(
      graph, images: [0, 2, 1, 5, 0, 1], labels: [1, 2], timesteps: [1, 4], batchSize: 2)
    #expect(result.accuracy == [0.5, 0.5])
  }

  @Test func edgesIntoOneNodeAreAdded() throws {
    let a = Raw(name: "a", type: "Scale", parameters: ["scale": numbers([2])])
    let b = Raw(name: "b", type: "Scale", parameters: ["scale": numbers([-0.5])])
    let graph = try NIRGraph(
      nodes: [input([1]), a, b, output], edges: [("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")])
    let result = try NIRSimulator.run(
      graph, images: [4], labels: [0], timesteps: [3], batchSize: 1, keepReadout: true)
    #expect(result.readout == [18])
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
