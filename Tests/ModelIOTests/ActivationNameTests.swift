import Foundation
import Graph
import HDF5
import ModelIO
import Tensor
import TestSupport
import Testing
import Training

/// Every named activation means the same function wherever a name is read or written: the table
/// itself, Keras files written and read back, and model descriptions.
@Suite struct ActivationNameTests {
  @Test(arguments: UnaryFunction.named.map(\.name))
  func everyNamedActivationRoundTrips(name: String) throws {
    let function = try #require(UnaryFunction(named: name))
    let canonical = try #require(function.canonicalName)
    #expect(UnaryFunction(named: canonical) == function)
    #expect(function.name == canonical)

    // Keras: written as a layer (Activation, or the family's own layer), read back unchanged.
    let graph = try Graph(
      name: "names",
      nodes: [
        Node(name: "x", op: .input(shape: [3])),
        Node(name: "f", op: .activation(function), inputs: ["x"]),
      ])
    let directory = try makeTemporaryDirectory("names")
    let path = directory.appendingPathComponent("\(canonical).h5").path
    try KerasModelWriter.write(graph, to: path, writerVersion: "test")
    #expect(try KerasModelReader.read(path).node("f")?.op == .activation(function))

    // Model descriptions, as an activation layer.
    let description =
      #"{"name": "d", "input": [3], "layers": [{"type": "activation", "function": "\#(name)"}]}"#
    let file = directory.appendingPathComponent("\(canonical).json")
    try Data(description.utf8).write(to: file)
    var random = SplitMix64(seed: 0)
    let built = try ModelDescription.load(file.path).build(random: &random)
    #expect(built.nodes.last?.op == .activation(function))
  }

  /// `hard_sigmoid` is `relu6(x + 3)/6` in Keras 3 and `clip(0.2·x + 0.5, 0, 1)` in tf.keras 2:
  /// the file's `keras_version` decides.
  @Test func hardSigmoidMeansWhatTheWritingKerasMeant() throws {
    let graph = try Graph(
      name: "gate",
      nodes: [
        Node(name: "x", op: .input(shape: [3])),
        Node(name: "f", op: .activation(.hardSigmoid(slope: 1.0 / 6, offset: 0.5)), inputs: ["x"]),
      ])
    let path = try makeTemporaryDirectory("hard-sigmoid").appendingPathComponent("gate.h5").path
    try KerasModelWriter.write(graph, to: path, writerVersion: "test")
    #expect(
      try KerasModelReader.read(path).node("f")?.op == .activation(.hardSigmoid(slope: 1.0 / 6, offset: 0.5)))
    try HDF5File.open(path, mode: .readWrite).root.writeAttribute("keras_version", string: "2.9.0")
    let old = try KerasModelReader.read(path)
    #expect(old.node("f")?.op == .activation(.hardSigmoid(slope: 0.2, offset: 0.5)))
    let x = Tensor<Float>(shape: [1, 3], scalars: [-3, 1, 2.6])
    #expect(old.predict([x])[0].scalars == [0, 0.7, 1])
  }

  @Test func unknownNamesAreRefusedWithTheKnownOnes() throws {
    #expect(UnaryFunction(named: "mish") == nil)
    let description = #"{"name": "d", "input": [3], "layers": [{"type": "activation", "function": "mish"}]}"#
    let file = try makeTemporaryDirectory("names").appendingPathComponent("bad.json")
    try Data(description.utf8).write(to: file)
    var random = SplitMix64(seed: 0)
    #expect {
      try ModelDescription.load(file.path).build(random: &random)
    } throws: { error in
      "\(error)".contains("unknown activation 'mish'") && "\(error)".contains(UnaryFunction.namesList)
    }
  }
}
