import Foundation
import Graph
import Tensor
import TestSupport
import Testing
import Training

@Suite struct ModelDescriptionTests {
  func write(_ json: String) throws -> String {
    let path = try makeTemporaryDirectory("spec").appendingPathComponent("model.json").path
    try json.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func problem(_ json: String) -> String {
    do {
      var random = SplitMix64(seed: 1)
      _ = try ModelDescription.load(try write(json)).build(random: &random)
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  @Test func shippedExampleBuilds() throws {
    var random = SplitMix64(seed: 1)
    let graph = try ModelDescription.load(
      repositoryRoot.appendingPathComponent("models/specs/small-cnn.json").path
    )
    .build(random: &random)
    #expect(graph.name == "small-cnn")
    #expect(graph.node(graph.outputs[0])!.shape == [10])
    #expect(graph.nodes.contains { $0.op == .add })
    #expect(graph.node("conv2d_2")!.shape == [14, 14, 32])
  }

  @Test func mistakesAreNamed() {
    #expect(
      problem(#"{"name": "x", "input": [4], "layers": [{"type": "lstm"}]}"#).contains(
        "layer 1 (lstm): unknown type"))
    #expect(
      problem(#"{"name": "x", "input": [4], "layers": [{"type": "dense"}]}"#).contains(
        "layer 1 (dense) needs 'units'"))
    #expect(
      problem(
        #"{"name": "x", "input": [4], "layers": [{"type": "dense", "units": 3, "activation": "swoosh"}]}"#
      ).contains("unknown activation 'swoosh'"))
    #expect(
      problem(#"{"name": "x", "input": [4], "layers": [{"type": "conv2d", "filters": 2}]}"#).contains(
        "needs (height, width, channels) input"))
    #expect(problem(#"{"name": "x", "layers": []}"#).contains("missing 'input'"))
    #expect(
      problem(
        #"{"name": "x", "input": [4], "layers": [{"type": "residual", "layers": [{"type": "dense", "units": 3}]}]}"#
      ).contains("(Add)"))
  }
}
