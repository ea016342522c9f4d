import Graph
import Tensor
import TestSupport
import Testing

@testable import Training

/// Analytic gradients against central finite differences, in float64, at random points away
/// from kinks and ties; and the chosen subgradient exactly at the kinks.
@Suite struct GradientCheckTests {
  /// An input node `x` followed by `before`. Leading with a parameterized layer lets each
  /// later op's input gradient be checked through that layer's kernel gradient.
  static func network(inputShape: [Int], before: [Node]) throws -> Graph {
    try Graph(name: "check", nodes: [Node(name: "x", op: .input(shape: inputShape))] + before)
  }

  static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor<Float> {
    var rng = SeededRandom(seed: seed)
    return Tensor(shape: shape, scalars: rng.uniform(shape.reduce(1, *), in: -scale...scale))
  }

  /// Checks every parameter gradient (up to 40 entries each) and the input gradient of
  /// `L = Σ R ⊙ output` (or of `loss`, when given) against central differences.
  static func check(
    _ graph: Graph, batch: Int = 3, loss: Loss? = nil, tolerance: Double = 1e-6, training: Bool = true,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    var network = try! TrainingNetwork<Double>(graph: graph, roundsToHalf: false, policy: SubgradientPolicy())
    let inputShape = [batch] + graph.inputNodes[0].shape
    var rng = SeededRandom(seed: 99)
    let input = Tensor<Double>(shape: inputShape, scalars: rng.uniform(inputShape.reduce(1, *), in: -1...1))
    let outputShape = [batch] + graph.node(graph.outputs[0])!.shape
    let weights = Tensor<Double>(
      shape: outputShape, scalars: rng.uniform(outputShape.reduce(1, *), in: -1...1))
    let labels = (0..<batch).map { $0 % (outputShape.last ?? 1) }
    let dropoutSeed = SeededRandom(seed: 5)

    func objective(_ net: inout TrainingNetwork<Double>, _ x: Tensor<Double>) -> (Double, Tensor<Double>) {
      var random = dropoutSeed
      let output = net.forward(x, training: training, random: &random).output
      if let loss { return loss.evaluate(output, labels: labels) }
      return ((output * weights).sum(), weights)
    }

    var random = dropoutSeed
    let tape = network.forward(input, training: training, random: &random)
    let seedGradient: Tensor<Double> =
      loss.map { $0.evaluate(tape.output, labels: labels).gradient } ?? weights
    let (gradients, inputGradient) = network.backwardWithInput(tape, outputGradient: seedGradient)
    let h = 1e-6

    func compare(_ analytic: Double, _ perturb: (Double) -> Double, _ what: String) {
      let numeric = (perturb(h) - perturb(-h)) / (2 * h)
      if abs(analytic - numeric) > tolerance * max(1, abs(numeric)) {
        Issue.record("\(what): analytic \(analytic), numeric \(numeric)", sourceLocation: sourceLocation)
      }
    }

    // Every trainable parameter of every node is checked, so a rule that forgets a gradient
    // (returns none for a bias, say) fails here rather than going unnoticed.
    for index in graph.nodes.indices {
      // A ScaleShift's parameters are constants (preprocessing): training leaves them alone.
      if case .scaleShift = graph.nodes[index].op { continue }
      for name in network.parameters[index].keys.sorted() where Trainer.trainable.contains(name) {
        guard let gradient = gradients[index][name] else {
          Issue.record(
            "\(graph.nodes[index].name).\(name): the backward pass returned no gradient",
            sourceLocation: sourceLocation)
          continue
        }
        for element in stride(from: 0, to: gradient.count, by: max(1, gradient.count / 40)) {
          compare(
            gradient.scalars[element],
            { delta in
              var copy = network
              copy.parameters[index][name]!.withUnsafeMutableScalars { $0[element] += delta }
              return objective(&copy, input).0
            }, "\(graph.nodes[index].name).\(name)[\(element)]")
        }
      }
    }
    if let inputGradient {
      for element in stride(from: 0, to: input.count, by: max(1, input.count / 40)) {
        compare(
          inputGradient.scalars[element],
          { delta in
            var x = input
            x.withUnsafeMutableScalars { $0[element] += delta }
            var copy = network
            return objective(&copy, x).0
          }, "input[\(element)]")
      }
    }
  }

  static func dense(_ name: String, _ input: String, _ inputs: Int, _ units: Int, seed: UInt64) -> Node {
    Node(
      name: name, op: .dense(units: units, useBias: true), inputs: [input],
      parameters: ["kernel": random([inputs, units], seed: seed), "bias": random([units], seed: seed + 1)])
  }

  static let smoothFunctions: [UnaryFunction] = [
    .gelu(.exact), .gelu(.tanh), .gelu(.sigmoid), .silu, .hardSwish, .tanh, .sigmoid, .softplus,
    .elu(alpha: 0.7),
    .square, .exp,
    .identity, .relu, .leakyRelu(slope: 0.1), .abs,
    .clippedRelu(maxValue: 0.5, negativeSlope: 0.1, threshold: -0.2),
  ]

  @Test(arguments: smoothFunctions)
  func activationsAwayFromKinks(function: UnaryFunction) throws {
    // Random inputs are almost surely not at a kink.
    Self.check(
      try Self.network(
        inputShape: [5],
        before: [
          Self.dense("d", "x", 5, 6, seed: 1), Node(name: "f", op: .activation(function), inputs: ["d"]),
        ]))
  }

  @Test func denseSoftmaxAddConcatenate() throws {
    Self.check(
      try Self.network(
        inputShape: [4],
        before: [
          Self.dense("a", "x", 4, 3, seed: 1), Self.dense("b", "x", 4, 3, seed: 3),
          Node(name: "s", op: .add, inputs: ["a", "b"]),
          Node(name: "c", op: .concatenate(axis: -1), inputs: ["s", "b"]),
          Node(name: "p", op: .softmax, inputs: ["c"]),
        ]))
  }

  /// Every two-input function (Keras's merge layers and the steps of decompositions) passes
  /// its partial derivatives to both inputs.
  @Test(arguments: [
    BinaryFunction.add, .subtract, .product, .maximum, .division, .normalize(epsilon: 0.5),
  ])
  func twoInputFunctions(function: BinaryFunction) throws {
    // A second operand kept positive (ReLU + 1) for the division and the square root.
    Self.check(
      try Self.network(
        inputShape: [4],
        before: [
          Self.dense("a", "x", 4, 3, seed: 1), Self.dense("b", "x", 4, 3, seed: 3),
          Node(name: "r", op: .activation(.relu), inputs: ["b"]),
          Node(
            name: "p", op: .scaleShift(scale: false, shift: true), inputs: ["r"],
            parameters: ["beta": Tensor(repeating: 1, shape: [3])]),
          Node(name: "f", op: .binary(function), inputs: ["a", "p"]),
        ]))
  }

  /// Where a maximum's inputs tie, the policy's rule picks which one gets the gradient.
  @Test func aMaximumsTieFollowsThePolicy() {
    let same = Tensor<Double>(shape: [2], scalars: [1, 2])
    let dy = Tensor<Double>(shape: [2], scalars: [3, 4])
    for (tie, expected) in [
      (MaxTieRule.first, ([3.0, 4], [0.0, 0])), (.last, ([0, 0], [3, 4])), (.split, ([1.5, 2], [1.5, 2])),
    ] {
      let gradients = Op.binary(.maximum).backward(
        inputs: [same, same], output: same, saved: .nothing, outputGradient: dy, parameters: [:],
        policy: SubgradientPolicy(maxPoolTie: tie))
      #expect(gradients.inputs.map(\.scalars) == [expected.0, expected.1], "\(tie)")
    }
  }

  /// Grouped and dilated convolutions (a depthwise one among them) get their kernel gradient
  /// through the ordinary convolution they equal.
  @Test(arguments: [
    (2, [1, 1], Padding.same, 1), (1, [2, 2], .same, 1), (2, [2, 1], .valid, 1), (4, [1, 2], .same, 2),
  ])
  func groupedAndDilatedConvolution(groups: Int, dilation: [Int], padding: Padding, stride: Int) throws {
    let conv = Node(
      name: "c",
      op: .conv2d(
        Conv2DAttributes(
          filters: 8, kernelSize: [3, 2], strides: [stride, stride], padding: padding, dilation: dilation,
          groups: groups)),
      inputs: ["x"],
      parameters: ["kernel": Self.random([3, 2, 4 / groups, 8], seed: 4), "bias": Self.random([8], seed: 5)])
    Self.check(
      try Self.network(
        inputShape: [7, 6, 4], before: [conv, Node(name: "t", op: .activation(.tanh), inputs: ["c"])]))
  }

  /// Transposed convolutions (valid and same, kernels larger and smaller than the stride): the
  /// gradients carried back through the ordinary convolution they equal, its padding and spread,
  /// and the kernel's turn.
  @Test(arguments: [([3, 3], [2, 2], Padding.valid), ([4, 3], [2, 1], .same), ([2, 2], [3, 3], .same)])
  func transposedConvolution(kernel: [Int], strides: [Int], padding: Padding) throws {
    let up = Node(
      name: "u",
      op: .conv2dTranspose(
        Conv2DAttributes(filters: 3, kernelSize: kernel, strides: strides, padding: padding)),
      inputs: ["x"],
      parameters: ["kernel": Self.random(kernel + [3, 2], seed: 4), "bias": Self.random([3], seed: 5)])
    Self.check(
      try Self.network(
        inputShape: [3, 4, 2], before: [up, Node(name: "t", op: .activation(.tanh), inputs: ["u"])]))
  }

  /// Padding, cropping, axis permutation and a constant per-channel affine map pass gradients
  /// back to the values they moved.
  @Test func selectionsAndConstantAffine() throws {
    let conv = Node(
      name: "c", op: .conv2d(Conv2DAttributes(filters: 3, kernelSize: [2, 2])), inputs: ["x"],
      parameters: ["kernel": Self.random([2, 2, 2, 3], seed: 4), "bias": Self.random([3], seed: 5)])
    let affine = Node(
      name: "s", op: .scaleShift(scale: true, shift: true), inputs: ["crop"],
      parameters: ["gamma": Self.random([3], seed: 6), "beta": Self.random([3], seed: 7)])
    Self.check(
      try Self.network(
        inputShape: [5, 4, 2],
        before: [
          conv, Node(name: "pad", op: .zeroPad2d(top: 1, bottom: 2, left: 0, right: 1), inputs: ["c"]),
          Node(name: "crop", op: .crop2d(top: 2, bottom: 0, left: 1, right: 1), inputs: ["pad"]), affine,
          Node(name: "p", op: .permute(order: [2, 0, 1]), inputs: ["s"]),
          Node(name: "t", op: .activation(.tanh), inputs: ["p"]),
          Node(name: "f", op: .flatten, inputs: ["t"]),
          Self.dense("d", "f", 3 * 5 * 2, 4, seed: 8),
        ]))
  }

  @Test(arguments: [(Padding.same, 1), (.valid, 2), (.same, 2)])
  func convolution(padding: Padding, stride: Int) throws {
    let conv = Node(
      name: "c",
      op: .conv2d(
        Conv2DAttributes(filters: 3, kernelSize: [3, 2], strides: [stride, stride], padding: padding)),
      inputs: ["x"],
      parameters: ["kernel": Self.random([3, 2, 2, 3], seed: 4), "bias": Self.random([3], seed: 5)])
    Self.check(
      try Self.network(
        inputShape: [6, 5, 2], before: [conv, Node(name: "t", op: .activation(.tanh), inputs: ["c"])]))
  }

  @Test(arguments: [PoolingMode.max, .average])
  func poolingAndGlobalAverage(mode: PoolingMode) throws {
    let conv = Node(
      name: "c", op: .conv2d(Conv2DAttributes(filters: 2, kernelSize: [2, 2], padding: .same)), inputs: ["x"],
      parameters: ["kernel": Self.random([2, 2, 1, 2], seed: 6), "bias": Self.random([2], seed: 7)])
    Self.check(
      try Self.network(
        inputShape: [5, 5, 1],
        before: [
          conv,
          Node(
            name: "p",
            op: .pool2d(Pool2DAttributes(mode: mode, size: [2, 2], strides: [1, 2], padding: .same)),
            inputs: ["c"]),
          Node(name: "g", op: .globalAveragePool2d, inputs: ["p"]),
        ]))
  }

  @Test func normalizationsInTrainingMode() throws {
    let bn = Node(
      name: "bn", op: .batchNorm(epsilon: 1e-3, center: true, scale: true), inputs: ["d"],
      parameters: [
        "gamma": Self.random([4], seed: 8), "beta": Self.random([4], seed: 9),
        "moving_mean": Tensor(zeros: [4]),
        "moving_variance": Tensor(repeating: 1, shape: [4]),
      ])
    let ln = Node(
      name: "ln", op: .layerNorm(epsilon: 1e-3, center: true, scale: true), inputs: ["r"],
      parameters: ["gamma": Self.random([2], seed: 10), "beta": Self.random([2], seed: 11)])
    Self.check(
      try Self.network(
        inputShape: [3],
        before: [
          Self.dense("d", "x", 3, 4, seed: 1), bn, Node(name: "r", op: .reshape([2, 2]), inputs: ["bn"]), ln,
          Node(name: "f", op: .flatten, inputs: ["ln"]),
        ]), batch: 5, tolerance: 1e-5)
  }

  @Test func dropoutWithAFixedMaskAndInferenceBatchNorm() throws {
    let bn = Node(
      name: "bn", op: .batchNorm(epsilon: 1e-3, center: false, scale: true), inputs: ["drop"],
      parameters: [
        "gamma": Self.random([4], seed: 8), "moving_mean": Self.random([4], seed: 2),
        "moving_variance": Tensor(repeating: 2, shape: [4]),
      ])
    let graph = try Self.network(
      inputShape: [3],
      before: [
        Self.dense("d", "x", 3, 4, seed: 1), Node(name: "drop", op: .dropout(rate: 0.4), inputs: ["d"]), bn,
      ])
    Self.check(graph, batch: 6)
    Self.check(graph, batch: 2, training: false)
  }

  @Test(arguments: Loss.allCases)
  func losses(loss: Loss) throws {
    Self.check(
      try Self.network(inputShape: [4], before: [Self.dense("d", "x", 4, 3, seed: 1)]), batch: 4, loss: loss)
  }

  @Test func binaryLogisticLossOnOneOutput() throws {
    Self.check(
      try Self.network(inputShape: [4], before: [Self.dense("d", "x", 4, 1, seed: 1)]), batch: 4,
      loss: .logistic)
  }
}
