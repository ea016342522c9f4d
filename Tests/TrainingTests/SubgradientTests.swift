import Graph
import Tensor
import TestSupport
import Testing

@testable import Training

/// At the kinks the gradient is `gradOut · s` for the chosen s, never the constant s.
@Suite struct SubgradientTests {
  func inputGradient(_ op: Op, input: [Double], shape: [Int], upstream: [Double], policy: SubgradientPolicy)
    throws -> [Double]
  {
    let graph = try Graph(
      name: "k", nodes: [Node(name: "x", op: .input(shape: shape)), Node(name: "f", op: op, inputs: ["x"])])
    var network = try TrainingNetwork<Double>(graph: graph, roundsToHalf: false, policy: policy)
    var random = SeededRandom(seed: 1)
    let tape = network.forward(Tensor(shape: [1] + shape, scalars: input), training: true, random: &random)
    let outputShape = [1] + graph.node("f")!.shape
    return network.backwardWithInput(tape, outputGradient: Tensor(shape: outputShape, scalars: upstream))
      .input!.scalars
  }

  @Test(arguments: [0.0, 0.5, 1.0, 2.5, -1.0])
  func reluLeakyAbsAtZeroUseTheChosenValue(s: Double) throws {
    let policy = SubgradientPolicy(reluPrime: s)
    let x: [Double] = [0, 0, -1, 2]
    let g: [Double] = [3, -2, 5, 7]
    #expect(
      try inputGradient(.activation(.relu), input: x, shape: [4], upstream: g, policy: policy) == [
        3 * s, -2 * s, 0, 7,
      ])
    #expect(
      try inputGradient(
        .activation(.leakyRelu(slope: 0.25)), input: x, shape: [4], upstream: g, policy: policy) == [
          3 * s, -2 * s, 1.25, 7,
        ])
    #expect(
      try inputGradient(.activation(.abs), input: x, shape: [4], upstream: g, policy: policy) == [
        3 * s, -2 * s, -5, 7,
      ])
    let clipped = UnaryFunction.clippedRelu(maxValue: 2, negativeSlope: 0.5, threshold: 0)
    #expect(
      try inputGradient(.activation(clipped), input: x, shape: [4], upstream: g, policy: policy) == [
        3 * s, -2 * s, 2.5, 0,
      ])
  }

  @Test(arguments: [(MaxTieRule.first, [4.0, 0, 0, 0]), (.last, [0, 0, 0, 4]), (.split, [1, 1, 1, 1])])
  func maxPoolTiesFollowTheRule(rule: MaxTieRule, expected: [Double]) throws {
    let op = Op.pool2d(Pool2DAttributes(mode: .max, size: [2, 2]))
    let gradient = try inputGradient(
      op, input: [3, 3, 3, 3], shape: [2, 2, 1], upstream: [4], policy: SubgradientPolicy(maxPoolTie: rule))
    #expect(gradient == expected)
    // Without a tie every rule sends the whole gradient to the maximum.
    let single = try inputGradient(
      op, input: [1, 3, 2, 0], shape: [2, 2, 1], upstream: [4], policy: SubgradientPolicy(maxPoolTie: rule))
    #expect(single == [0, 4, 0, 0])
  }
}
