import Foundation
import Graph
import Tensor
import TestSupport
import Testing

@Suite struct GraphValidationTests {
  func dense(_ name: String, _ input: String, in inputs: Int, out units: Int, seed: UInt64 = 1) -> Node {
    var rng = SeededRandom(seed: seed)
    return Node(
      name: name, op: .dense(units: units, useBias: true), inputs: [input],
      parameters: [
        "kernel": Tensor(shape: [inputs, units], scalars: rng.uniform(inputs * units)),
        "bias": Tensor(shape: [units], scalars: rng.uniform(units)),
      ])
  }

  @Test func nodesAreOrderedTopologicallyKeepingValidOrder() throws {
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "sum", op: .add, inputs: ["a", "b"]),
        Node(name: "x", op: .input(shape: [4])),
        Node(name: "b", op: .activation(.tanh), inputs: ["x"]),
        Node(name: "a", op: .activation(.relu), inputs: ["x"]),
      ])
    #expect(graph.nodes.map(\.name) == ["x", "b", "a", "sum"])
    #expect(graph.outputs == ["sum"])
    #expect(graph.node("sum")?.shape == [4])
  }

  @Test func structuralErrorsNameBothEnds() {
    #expect(throws: GraphError.unknownInput(node: "y", input: "ghost")) {
      try Graph(
        name: "g",
        nodes: [
          Node(name: "x", op: .input(shape: [2])), Node(name: "y", op: .activation(.relu), inputs: ["ghost"]),
        ])
    }
    #expect(throws: GraphError.duplicateName("x")) {
      try Graph(
        name: "g", nodes: [Node(name: "x", op: .input(shape: [2])), Node(name: "x", op: .input(shape: [2]))])
    }
    #expect(throws: GraphError.cycle(["a", "b"])) {
      try Graph(
        name: "g",
        nodes: [
          Node(name: "x", op: .input(shape: [2])), Node(name: "a", op: .add, inputs: ["x", "b"]),
          Node(name: "b", op: .activation(.relu), inputs: ["a"]),
        ])
    }
    #expect(throws: GraphError.arity(node: "s", op: "Add", expected: "at least 2", actual: 1)) {
      try Graph(
        name: "g", nodes: [Node(name: "x", op: .input(shape: [2])), Node(name: "s", op: .add, inputs: ["x"])])
    }
    #expect(throws: GraphError.noInputs) { try Graph(name: "g", nodes: []) }
    #expect(throws: GraphError.unknownOutput("z")) {
      try Graph(name: "g", nodes: [Node(name: "x", op: .input(shape: [2]))], outputs: ["z"])
    }
  }

  @Test func shapeErrorsSayWhatDoesNotFit() throws {
    let add = #expect(throws: GraphError.self) {
      try Graph(
        name: "g",
        nodes: [
          Node(name: "x", op: .input(shape: [4])), dense("d", "x", in: 4, out: 3),
          Node(name: "s", op: .add, inputs: ["x", "d"]),
        ])
    }
    #expect(add?.description == "'s' (Add): input 1 'd' has shape [3], input 0 'x' has [4]")
    let conv = #expect(throws: GraphError.self) {
      try Graph(
        name: "g",
        nodes: [
          Node(name: "x", op: .input(shape: [2, 2, 1])),
          Node(
            name: "c", op: .conv2d(Conv2DAttributes(filters: 1, kernelSize: [3, 3], useBias: false)),
            inputs: ["x"],
            parameters: ["kernel": Tensor(zeros: [3, 3, 1, 1])]),
        ])
    }
    #expect(conv?.description.contains("does not fit input [2, 2, 1]") == true)
    #expect(throws: GraphError.self) {
      try Graph(
        name: "g",
        nodes: [
          Node(name: "x", op: .input(shape: [6])), Node(name: "r", op: .reshape([4, -1]), inputs: ["x"]),
        ])
    }
  }

  @Test func parametersAreChecked() {
    var wrong = dense("d", "x", in: 4, out: 3)
    wrong.parameters["kernel"] = Tensor(zeros: [3, 4])
    #expect(
      throws: GraphError.parameterShape(node: "d", parameter: "kernel", expected: [4, 3], actual: [3, 4])
    ) {
      try Graph(name: "g", nodes: [Node(name: "x", op: .input(shape: [4])), wrong])
    }
    var missing = dense("d", "x", in: 4, out: 3)
    missing.parameters["bias"] = nil
    #expect(throws: GraphError.missingParameter(node: "d", parameter: "bias", expectedShape: [3])) {
      try Graph(name: "g", nodes: [Node(name: "x", op: .input(shape: [4])), missing])
    }
    var extra = dense("d", "x", in: 4, out: 3)
    extra.parameters["gamma"] = Tensor(zeros: [3])
    #expect(throws: GraphError.unexpectedParameter(node: "d", parameter: "gamma")) {
      try Graph(name: "g", nodes: [Node(name: "x", op: .input(shape: [4])), extra])
    }
    var infinite = dense("d", "x", in: 4, out: 3)
    infinite.parameters["bias"] = Tensor(shape: [3], scalars: [0, .infinity, 0])
    #expect(throws: GraphError.nonFiniteParameter(node: "d", parameter: "bias", index: 1)) {
      try Graph(name: "g", nodes: [Node(name: "x", op: .input(shape: [4])), infinite])
    }
  }

  @Test func shapesOfReshapeConcatenateAndPooling() throws {
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "x", op: .input(shape: [6, 6, 2])),
        Node(name: "p", op: .pool2d(Pool2DAttributes(mode: .max, size: [2, 2])), inputs: ["x"]),
        Node(
          name: "q", op: .pool2d(Pool2DAttributes(mode: .average, size: [2, 2], padding: .same)),
          inputs: ["x"]),
        Node(name: "c", op: .concatenate(axis: -1), inputs: ["p", "q"]),
        Node(name: "r", op: .reshape([-1, 4]), inputs: ["c"]),
        Node(name: "g", op: .globalAveragePool2d, inputs: ["x"]),
      ], outputs: ["r", "g"])
    #expect(graph.node("c")?.shape == [3, 3, 4])
    #expect(graph.node("r")?.shape == [9, 4])
    #expect(graph.node("g")?.shape == [2])
  }

  @Test func shapesAndValuesOfSelectionsAndGroupedConvolutions() throws {
    let kernel = Tensor<Float>(shape: [3, 3, 1, 4], scalars: (0..<36).map { Float($0) })
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "x", op: .input(shape: [3, 2, 2])),
        Node(name: "pad", op: .zeroPad2d(top: 1, bottom: 0, left: 2, right: 1), inputs: ["x"]),
        Node(name: "crop", op: .crop2d(top: 1, bottom: 1, left: 0, right: 1), inputs: ["x"]),
        Node(name: "swap", op: .permute(order: [2, 0, 1]), inputs: ["x"]),
        Node(
          name: "depthwise",
          op: .conv2d(
            Conv2DAttributes(
              filters: 4, kernelSize: [3, 3], padding: .same, useBias: false, dilation: [2, 2], groups: 2)),
          inputs: ["x"], parameters: ["kernel": kernel]),
      ], outputs: ["pad", "crop", "swap", "depthwise"])
    #expect(graph.node("pad")?.shape == [4, 5, 2])
    #expect(graph.node("crop")?.shape == [1, 1, 2])
    #expect(graph.node("swap")?.shape == [2, 3, 2])
    #expect(graph.node("depthwise")?.shape == [3, 2, 4])
    // x[h, w, c] = 100h + 10w + c.
    var pixels = [Float]()
    for h in 0..<3 {
      for w in 0..<2 {
        for c in 0..<2 { pixels.append(Float(100 * h + 10 * w + c)) }
      }
    }
    let values = graph.activations([Tensor(shape: [1, 3, 2, 2], scalars: pixels)])
    let padded: [Float] = values["pad"]!.scalars
    #expect(padded.filter { $0 != 0 }.count == 11)  // x[0, 0, 0] is 0 itself
    #expect(padded[(1 * 5 + 2) * 2 + 1] == 1)  // x[0, 0, 1] lands at (1, 2)
    #expect(values["crop"]!.scalars == [100, 101])
    // swap[c, h, w] = x[h, w, c].
    let swapped: [Float] = [0, 10, 100, 110, 200, 210, 1, 11, 101, 111, 201, 211]
    #expect(values["swap"]!.scalars == swapped)
    // Output (1, 0) with dilation 2 and 'same' padding (2 rows above, 2 columns left): its taps
    // fall on rows −1, 1, 3 and columns −2, 0, 2, so only the centre tap, x[1, 0], is inside;
    // filter f belongs to group f/2, which reads channel f/2.
    let centre: [Float] = (0..<4).map { f in kernel.scalars[(1 * 3 + 1) * 4 + f] * Float(100 + f / 2) }
    #expect(Array(values["depthwise"]!.scalars[8..<12]) == centre)
    #expect(throws: GraphError.self) {
      try Graph(
        name: "g",
        nodes: [
          Node(name: "x", op: .input(shape: [3, 2, 2])),
          Node(name: "p", op: .permute(order: [0, 0, 1]), inputs: ["x"]),
        ])
    }
    #expect(throws: GraphError.self) {
      try Graph(
        name: "g",
        nodes: [
          Node(name: "x", op: .input(shape: [3, 2, 3])),
          Node(
            name: "c", op: .conv2d(Conv2DAttributes(filters: 4, kernelSize: [1, 1], groups: 2)),
            inputs: ["x"],
            parameters: ["kernel": Tensor(zeros: [1, 1, 1, 4]), "bias": Tensor(zeros: [4])]),
        ])
    }
  }

  @Test func graphsRoundTripThroughJSON() throws {
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "x", op: .input(shape: [4])), dense("d", "x", in: 4, out: 3),
        Node(name: "a", op: .activation(.gelu(.tanh)), inputs: ["d"]),
        Node(name: "n", op: .layerNorm(epsilon: 1e-5, center: false, scale: false), inputs: ["a"]),
      ])
    let data = try JSONEncoder().encode(graph)
    #expect(try JSONDecoder().decode(Graph.self, from: data) == graph)
  }

  /// The graph of ``graphsRoundTripThroughJSON()`` as a JSON object, to be damaged.
  func encodedGraph() throws -> [String: Any] {
    let graph = try Graph(
      name: "g", nodes: [Node(name: "x", op: .input(shape: [4])), dense("d", "x", in: 4, out: 3)])
    return try JSONSerialization.jsonObject(with: try JSONEncoder().encode(graph)) as! [String: Any]
  }

  @Test func decodingRefusesANodeReadingAnUnknownInput() throws {
    var object = try encodedGraph()
    var nodes = object["nodes"] as! [[String: Any]]
    nodes[1]["inputs"] = ["nowhere"]
    object["nodes"] = nodes
    let data = try JSONSerialization.data(withJSONObject: object)
    #expect(throws: GraphError.unknownInput(node: "d", input: "nowhere")) {
      try JSONDecoder().decode(Graph.self, from: data)
    }
  }

  @Test func decodingReinfersShapesInsteadOfTrustingThem() throws {
    var object = try encodedGraph()
    var nodes = object["nodes"] as! [[String: Any]]
    nodes[1]["shape"] = [99]
    object["nodes"] = nodes
    let graph = try JSONDecoder().decode(Graph.self, from: try JSONSerialization.data(withJSONObject: object))
    #expect(graph.node("d")?.shape == [3])
  }

  @Test(arguments: [
    (#"{"shape": [2, 3], "scalars": [1, 2, 3]}"#, "needs 6 values, got 3"),
    (#"{"shape": [-1, 3], "scalars": []}"#, "invalid tensor shape"),
    (#"{"shape": [4294967296, 4294967296], "scalars": []}"#, "invalid tensor shape"),
  ])
  func decodingRefusesATensorThatDisagreesWithItsShape(json: String, expected: String) {
    do {
      _ = try JSONDecoder().decode(Tensor<Float>.self, from: Data(json.utf8))
      Issue.record("\(json) decoded")
    } catch DecodingError.dataCorrupted(let context) {
      #expect(context.debugDescription.contains(expected), "\(context.debugDescription)")
    } catch {
      Issue.record("unexpected \(error)")
    }
  }
}

@Suite struct GraphInferenceTests {
  @Test func batchNormAndLayerNormFollowTheirFormulas() throws {
    let gamma: [Float] = [2, 0.5]
    let beta: [Float] = [1, -1]
    let mean: [Float] = [0.5, -0.25]
    let variance: [Float] = [4, 0.25]
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "x", op: .input(shape: [2])),
        Node(
          name: "bn", op: .batchNorm(epsilon: 0.01, center: true, scale: true), inputs: ["x"],
          parameters: [
            "gamma": Tensor(shape: [2], scalars: gamma), "beta": Tensor(shape: [2], scalars: beta),
            "moving_mean": Tensor(shape: [2], scalars: mean),
            "moving_variance": Tensor(shape: [2], scalars: variance),
          ]),
        Node(name: "ln", op: .layerNorm(epsilon: 0.001, center: false, scale: false), inputs: ["bn"]),
      ])
    let x: [Float] = [1, 2, -3, 0.5]
    let values = graph.activations([Tensor(shape: [2, 2], scalars: x)])
    var expectedBN = [Float]()
    for row in 0..<2 {
      for c in 0..<2 {
        expectedBN.append(gamma[c] * (x[row * 2 + c] - mean[c]) / (variance[c] + 0.01).squareRoot() + beta[c])
      }
    }
    assertClose(values["bn"]!.scalars, expectedBN, rtol: 1e-6)
    var expectedLN = [Float]()
    for row in 0..<2 {
      let pair = Array(expectedBN[(row * 2)..<(row * 2 + 2)])
      let m = (pair[0] + pair[1]) / 2
      let v = ((pair[0] - m) * (pair[0] - m) + (pair[1] - m) * (pair[1] - m)) / 2
      expectedLN += pair.map { ($0 - m) / (v + 0.001).squareRoot() }
    }
    assertClose(values["ln"]!.scalars, expectedLN, rtol: 1e-5)
  }

  @Test func evaluationScoresArgmaxAndAdaptsFlatInputs() throws {
    // A 2-class "network" that outputs the input itself: the arg-max is the larger pixel.
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "x", op: .input(shape: [2])), Node(name: "id", op: .dropout(rate: 0.5), inputs: ["x"]),
      ])
    let images = Tensor<Float>(shape: [3, 1, 2, 1], scalars: [0.9, 0.1, 0.2, 0.8, 0.6, 0.4])
    let result = try graph.evaluate(images: images, labels: [0, 1, 1], batchSize: 2, keepOutputs: true)
    #expect(result.correct == 2 && result.count == 3)
    #expect(result.outputs?.shape == [3, 2])
    #expect(throws: GraphError.self) {
      try graph.evaluate(images: Tensor(zeros: [1, 3]), labels: [0])
    }
  }
}
