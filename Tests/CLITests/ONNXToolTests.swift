import Foundation
import Tensor
import TestSupport
import Testing

/// The tools on an ONNX model and N×C×H×W arrays as a PyTorch user holds them: evaluation scores
/// onnxruntime's classes, conversion and simulation run, and channels-last data is refused
/// instead of reinterpreted.
@Suite struct ONNXToolTests {
  static let fixtures = repositoryRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures/onnx")

  @Test func anONNXModelGoesFromEvaluationToSimulation() throws {
    let directory = try makeTemporaryDirectory("onnx-tools")
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    let input = try readNPY(Self.fixtures.appendingPathComponent("resnet-input.npy"))
    let expected = try readNPY(Self.fixtures.appendingPathComponent("resnet-expected.npy"))
    // The labels are onnxruntime's classes, so the ANN scores 100 %.
    let classes = expected.shape[1]
    let labels = (0..<expected.shape[0]).map { row in
      (0..<classes).max { expected.values[row * classes + $0] < expected.values[row * classes + $1] }!
    }
    try writeNPY(shape: input.shape, values: input.values, to: directory.appendingPathComponent("x.npy"))
    try writeNPY(labels: labels, to: directory.appendingPathComponent("y.npy"))
    let data = ["--data", path("x.npy") + "," + path("y.npy")]
    let model = Self.fixtures.appendingPathComponent("resnet.onnx").path

    let inspect = try runTool("snnconv", ["inspect", model])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains("Conv2D"), "\(inspect.stdout)")
    let eval = try runTool("snnconv", ["eval", model] + data)
    #expect(eval.status == 0, "\(eval.stderr)")
    #expect(eval.stdout.contains("(8/8)"), "\(eval.stdout)")

    let convert = try runTool(
      "snnconv", ["convert", model, "--calibration", "8", "-o", path("resnet.snn.h5")] + data)
    #expect(convert.status == 0, "\(convert.stderr)")
    let run = try runTool(
      "snnsim", ["run", path("resnet.snn.h5"), "--timesteps", "256", "--results", path("run.json")] + data)
    #expect(run.status == 0, "\(run.stderr)")
    let record =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("run.json"))))
      as! [String: Any]
    #expect(record["ann_accuracy"] as? Double == 1)
    // Eight images: at T = 256 the spiking network gives the ANN's class for at least seven.
    let agreement = try #require(record["agreement"] as? [Double])
    #expect(agreement[0] >= 0.875, "\(agreement)")

    // The same images stored channels-last: refused, naming both shapes, nothing reinterpreted.
    let channelsLast = Tensor<Float>(shape: input.shape, scalars: input.values).permuted([0, 2, 3, 1])
    try writeNPY(
      shape: channelsLast.shape, values: channelsLast.scalars,
      to: directory.appendingPathComponent("nhwc.npy"))
    let refused = try runTool("snnconv", ["eval", model, "--data", path("nhwc.npy") + "," + path("y.npy")])
    #expect(refused.status == 1)
    #expect(
      refused.stderr.contains("[3, 32, 32]") && refused.stderr.contains("[32, 32, 3]"), "\(refused.stderr)")
  }

  /// A malformed ONNX file: one line naming the file, exit 1, nothing written.
  @Test func aMalformedModelIsRefusedWithNothingWritten() throws {
    let directory = try makeTemporaryDirectory("onnx-bad")
    let output = directory.appendingPathComponent("out.snn.h5")
    let result = try runTool(
      "snnconv",
      [
        "convert", Self.fixtures.appendingPathComponent("bad-order.onnx").path, "--normalize", "none", "-o",
        output.path,
      ])
    #expect(result.status == 1)
    #expect(
      result.stderr.contains("bad-order.onnx") && result.stderr.contains("no earlier node"),
      "\(result.stderr)")
    #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: output.path))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
  }
}
