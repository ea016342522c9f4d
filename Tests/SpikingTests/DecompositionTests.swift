import Conversion
import Datasets
import Graph
import HDF5
import ModelIO
import Spiking
import Tensor
import TestSupport
import Testing
import Training

let spikingFixtures = repositoryRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures")

/// A Keras fixture and the inputs Keras was run on.
func fixture(_ name: String) throws -> (graph: Graph, inputs: Tensor<Float>) {
  let graph = try KerasModelReader.read(spikingFixtures.appendingPathComponent("\(name).h5").path)
  let dataset = try HDF5File.open(spikingFixtures.appendingPathComponent("\(name).expected.h5").path).root
    .dataset("inputs")
  return (graph, Tensor(shape: try dataset.shape, scalars: try dataset.read(as: Float.self)))
}

/// A small image network with what the Keras fixtures lack: a 3×3 stride-2 max pooling with
/// `same` padding (windows overhang the border), a LayerNorm without γ/β, and a softmax inside
/// the network.
func compositeGraph() throws -> Graph {
  var random = SeededRandom(seed: 7)
  func tensor(_ shape: [Int], _ scale: Float = 0.5) -> Tensor<Float> {
    Tensor(
      shape: shape,
      scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &random) })
  }
  return try Graph(
    name: "composite",
    nodes: [
      Node(name: "x", op: .input(shape: [7, 7, 2])),
      Node(
        name: "conv", op: .conv2d(Conv2DAttributes(filters: 3, kernelSize: [3, 3], padding: .same)),
        inputs: ["x"],
        parameters: ["kernel": tensor([3, 3, 2, 3]), "bias": tensor([3], 0.1)]),
      Node(
        name: "pool",
        op: .pool2d(Pool2DAttributes(mode: .max, size: [3, 3], strides: [2, 2], padding: .same)),
        inputs: ["conv"]),
      Node(name: "flat", op: .flatten, inputs: ["pool"]),
      Node(name: "norm", op: .layerNorm(epsilon: 1e-3, center: false, scale: false), inputs: ["flat"]),
      Node(
        name: "dense", op: .dense(units: 5, useBias: true), inputs: ["norm"],
        parameters: ["kernel": tensor([48, 5]), "bias": tensor([5], 0.1)]),
      Node(name: "inner", op: .softmax, inputs: ["dense"]),
      Node(
        name: "out", op: .dense(units: 3, useBias: true), inputs: ["inner"],
        parameters: ["kernel": tensor([5, 3], 2), "bias": tensor([3], 0.1)]),
    ])
}

@Suite struct DecompositionTests {
  @Test(arguments: ["keras3_func_mlp", "keras3_seq_cnn", "keras3_func_res", "composite"])
  func decomposedGraphsComputeTheSameFunction(name: String) throws {
    let graph: Graph
    let inputs: Tensor<Float>
    if name == "composite" {
      graph = try compositeGraph()
      var random = SeededRandom(seed: 3)
      inputs = Tensor(
        shape: [4, 7, 7, 2], scalars: (0..<392).map { _ in Float.random(in: 0...1, using: &random) })
    } else {
      (graph, inputs) = try fixture(name)
    }
    let decomposed = try GraphPasses.decompose(graph)
    #expect(decomposed.nodes.count > graph.nodes.count)
    #expect(
      !decomposed.nodes.contains { node in
        switch node.op {
        case .pool2d(let a): return a.mode == .max
        case .layerNorm: return true
        case .softmax: return !decomposed.outputs.contains(node.name)
        default: return false
        }
      })
    let before = graph.activations([inputs])
    let after = decomposed.activations([inputs])
    // Every original node keeps its name and its values.
    for node in graph.nodes {
      assertClose(after[node.name]!.scalars, before[node.name]!.scalars, rtol: 1e-4, atol: 1e-5, node.name)
    }
  }

  /// Rescaling-like maps fold into the Dense or Conv2D they feed where that is exact — the
  /// network computes the same function — and stay where the reader pads a shifted image.
  @Test func constantAffineMapsFoldWhereExact() throws {
    var random = SeededRandom(seed: 8)
    func tensor(_ shape: [Int]) -> Tensor<Float> {
      Tensor(shape: shape, scalars: random.uniform(shape.reduce(1, *), in: -1...1))
    }
    func affine(_ name: String, _ input: String, shift: Bool) -> Node {
      Node(
        name: name, op: .scaleShift(scale: true, shift: shift), inputs: [input],
        parameters: shift ? ["gamma": tensor([4]), "beta": tensor([4])] : ["gamma": tensor([4])])
    }
    func conv(_ name: String, _ input: String, padding: Padding, groups: Int = 1) -> Node {
      Node(
        name: name,
        op: .conv2d(Conv2DAttributes(filters: 4, kernelSize: [3, 2], padding: padding, groups: groups)),
        inputs: [input], parameters: ["kernel": tensor([3, 2, 4 / groups, 4]), "bias": tensor([4])])
    }
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "x", op: .input(shape: [6, 5, 4])),
        affine("shifted", "x", shift: true), conv("valid", "shifted", padding: .valid, groups: 2),
        affine("scaled", "x", shift: false), conv("same", "scaled", padding: .same),
        affine("kept", "x", shift: true), conv("padded", "kept", padding: .same),
        affine("beforePadding", "x", shift: false),
        Node(
          name: "padding", op: .zeroPad2d(top: 1, bottom: 0, left: 2, right: 1), inputs: ["beforePadding"]),
        conv("afterPadding", "padding", padding: .valid),
        affine("beforeDense", "x", shift: true),
        Node(
          name: "dense", op: .dense(units: 3, useBias: false), inputs: ["beforeDense"],
          parameters: ["kernel": tensor([4, 3])]),
      ], outputs: ["valid", "same", "padded", "afterPadding", "dense"])
    let folded = try GraphPasses.foldConstantAffine(graph)
    #expect(
      folded.node("shifted") == nil && folded.node("scaled") == nil && folded.node("beforeDense") == nil)
    #expect(folded.node("kept") != nil, "a shifted image read with padding must not fold")
    let inputs = tensor([3, 6, 5, 4])
    let before = graph.activations([inputs])
    let after = folded.activations([inputs])
    for name in graph.outputs {
      assertClose(after[name]!.scalars, before[name]!.scalars, rtol: 1e-5, atol: 1e-5, name)
    }
  }

  @Test func compositeLayersBecomeTheDocumentedSteps() throws {
    let decomposed = try GraphPasses.decompose(try compositeGraph())
    func ops(_ prefix: String) -> [String] {
      decomposed.nodes.filter { $0.name == prefix || $0.name.hasPrefix(prefix + "/") }.map(\.op.kind)
    }
    // 3×3 window: nine selections and a balanced tree of eight two-input max neurons.
    #expect(ops("pool").filter { $0.hasPrefix("WindowElement") }.count == 9)
    #expect(ops("pool").filter { $0 == "Binary(max)" }.count == 8)
    #expect(decomposed.node("pool")!.op == .binary(.maximum))
    #expect(
      ops("norm") == [
        "LastAxis(deviation)", "Activation(square)", "LastAxis(mean)", "Binary(normalize)",
      ])
    // Width 5: three rounds of rotation and max find the row maximum everywhere.
    #expect(
      ops("inner") == [
        "LastAxisRotation(1)", "Binary(max)", "LastAxisRotation(2)", "Binary(max)", "LastAxisRotation(4)",
        "Binary(max)", "LastAxis(mean)", "Binary(subtract)", "Activation(exponential)", "LastAxis(sum)",
        "Binary(divide)",
      ])
    let network = try SpikingNetwork(decomposed, dynamics: .signGD)
    // Eight for the pooling window, three for the softmax's row maximum.
    #expect(
      network.populations.map(\.target).filter { $0 == .binary(.maximum) }.count == 11
        && network.populations.contains { $0.target == .binary(.normalize(epsilon: 1e-3)) }
        && network.populations.contains { $0.target == .unary(.square) }
        && network.populations.contains { $0.target == .binary(.division) })
  }

  @Test func decomposedGraphsCannotBeTrained() throws {
    let decomposed = try GraphPasses.decompose(try compositeGraph())
    let data = LabeledImages(
      images: Tensor(zeros: [2, 7, 7, 2]), labels: [0, 1], classNames: ["a", "b", "c"], name: "zeros")
    #expect(throws: TrainingError.untrainableOp(node: "pool/w0_0", op: "WindowElement(0,0)")) {
      try Trainer.fit(decomposed, train: data, configuration: TrainingConfiguration(epochs: 1, batchSize: 2))
    }
  }

  /// Both forms of every composite layer converge to the ANN under signGD.
  @Test(arguments: [false, true])
  func signGDTracksTheCompositeNetwork(fuse: Bool) throws {
    let graph = try compositeGraph()
    var random = SeededRandom(seed: 5)
    let images = Tensor<Float>(
      shape: [6, 7, 7, 2], scalars: (0..<588).map { _ in Float.random(in: 0...1, using: &random) })
    let network = try SpikingNetwork(
      graph, dynamics: .signGD, normalization: .max, calibration: images, fuse: fuse)
    #expect(network.isFused == fuse)
    let result = try Simulator.run(
      network, images: images, labels: [0, 1, 2, 0, 1, 2], timesteps: [16, 128, 256])
    for population in result.populations {
      #expect(
        population.meanRelativeError[2] < 0.01 && population.meanAbsError[2] < population.meanAbsError[0],
        "\(population.name): \(population.meanRelativeError)")
    }
  }

  /// Logits between about 30 and 50: shifted by the row maximum, the exp neurons keep a scale of
  /// at most 1 (without the shift it would be exp of the largest logit, about 10^20), and tuned
  /// for T = 64 the softmax's output is within 2 % of the ANN's there.
  @Test func innerSoftmaxOfLargeLogitsKeepsItsExpScaleAtOne() throws {
    var random = SeededRandom(seed: 11)
    func tensor(_ shape: [Int], _ range: ClosedRange<Float>) -> Tensor<Float> {
      Tensor(
        shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &random) })
    }
    let graph = try Graph(
      name: "large-logits",
      nodes: [
        Node(name: "x", op: .input(shape: [6])),
        Node(
          name: "logits", op: .dense(units: 8, useBias: true), inputs: ["x"],
          parameters: ["kernel": tensor([6, 8], -2...2), "bias": tensor([8], 35...45)]),
        Node(name: "inner", op: .softmax, inputs: ["logits"]),
        Node(
          name: "out", op: .dense(units: 3, useBias: true), inputs: ["inner"],
          parameters: ["kernel": tensor([8, 3], -2...2), "bias": tensor([3], -0.1...0.1)]),
      ])
    let images = tensor([12, 6], 0...1)
    let network = try SpikingNetwork(graph, dynamics: .signGD, normalization: .max, calibration: images)
    let exp = try #require(network.populations.first { $0.node == "inner/exp" })
    #expect(exp.scales.allSatisfy { $0 > 0 && $0 <= 1 + 1e-6 }, "\(exp.scales)")
    let tuned = try Tuning.tune(network, images: images, timesteps: 64).network
    let result = try Simulator.run(tuned, images: images, labels: (0..<12).map { $0 % 3 }, timesteps: [64])
    let inner = try #require(result.populations.first { $0.name == "inner" })
    #expect(
      inner.meanRelativeError[0] < 0.02,
      "\(result.populations.map { ($0.name, $0.meanRelativeError, $0.meanAbsError) })")
  }
}
