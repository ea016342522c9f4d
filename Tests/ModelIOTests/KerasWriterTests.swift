import Foundation
import Graph
import HDF5
import ModelIO
import Tensor
import TestSupport
import Testing

@Suite struct KerasWriterTests {
  @Test(arguments: KerasFixtureTests.names)
  func writtenFilesReadBackExactly(name: String) throws {
    let graph = try KerasModelReader.read(
      KerasFixtureTests.fixtures.appendingPathComponent("\(name).h5").path)
    let path = try makeTemporaryDirectory("keras-write").appendingPathComponent("copy.h5").path
    try KerasModelWriter.write(graph, to: path, writerVersion: "test")
    let back = try KerasModelReader.read(path)
    #expect(back == graph)
  }

  @Test(
    .enabled(if: pythonHas("keras", "jax", "h5py"), "needs python3 with keras, jax and h5py"),
    arguments: KerasFixtureTests.names)
  func writtenFilesLoadInKeras(name: String) throws {
    let graph = try KerasModelReader.read(
      KerasFixtureTests.fixtures.appendingPathComponent("\(name).h5").path)
    let directory = try makeTemporaryDirectory("keras-load")
    let model = directory.appendingPathComponent("model.h5").path
    try KerasModelWriter.write(graph, to: model, writerVersion: "test")
    let inputsPath = KerasFixtureTests.fixtures.appendingPathComponent("\(name).expected.h5").path
    let outPath = directory.appendingPathComponent("out.h5").path
    let script = repositoryRoot.appendingPathComponent("tools/keras_predict.py").path
    let result = try runProcess("python3", [script, model, inputsPath, outPath])
    try #require(result.status == 0, "Keras could not load the file: \(result.output.suffix(2000))")
    let kerasOutputs = try HDF5File.open(outPath).root.dataset("outputs").read(as: Float.self)
    let (inputs, _) = try KerasFixtureTests.expected(name)
    assertClose(graph.predict([inputs])[0].scalars, kerasOutputs, rtol: 0, atol: 1e-4, name)
  }

  @Test func unwritableOpsAreRefusedAndLeaveNoFile() throws {
    let graph = try Graph(
      name: "g",
      nodes: [
        Node(name: "x", op: .input(shape: [3])), Node(name: "sq", op: .activation(.square), inputs: ["x"]),
      ])
    let path = try makeTemporaryDirectory("keras-refuse").appendingPathComponent("g.h5").path
    #expect(throws: ModelIOError.self) { try KerasModelWriter.write(graph, to: path, writerVersion: "test") }
    #expect(!FileManager.default.fileExists(atPath: path))
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
  }
}
