import Foundation
import TestSupport
import Testing

/// The whole pipeline from the command line: convert the shipped Keras MLP, simulate, read the
/// results back.
@Suite struct SNNSimTests {
  @Test func convertThenRunWritesResults() throws {
    let directory = try makeTemporaryDirectory("pipeline")
    let network = directory.appendingPathComponent("mlp.snn.h5").path
    let convert = try runTool(
      "snnconv",
      [
        "convert", "models/keras_fashion_mlp.h5", "--dynamics", "signgd", "--normalize", "max",
        "--calibration", "200", "-o", network,
      ])
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(convert.stdout.contains("wrote \(network): 2 populations, normalization max"))
    let inspect = try runTool("snnconv", ["inspect", network])
    #expect(inspect.status == 0 && inspect.stdout.contains("2 populations, 192 neurons"), "\(inspect.stdout)")
    let json = directory.appendingPathComponent("run.json").path
    let run = try runTool(
      "snnsim", ["run", network, "--limit", "100", "--timesteps", "4,32,128", "--results", json])
    #expect(run.status == 0, "\(run.stderr)")
    let object =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
    #expect(object?["timesteps"] as? [Int] == [4, 32, 128])
    #expect((object?["accuracy"] as? [Double])?.count == 3)
    #expect(object?["ann_accuracy"] is Double)
    let populations = object?["populations"] as? [[String: Any]]
    #expect(populations?.count == 2)
    #expect((populations?.first?["mean_abs_error"] as? [Double])?.count == 3)
    #expect(populations?.first?["dynamics"] as? String == "signgd")
    let csv = try String(contentsOfFile: directory.appendingPathComponent("run.csv").path, encoding: .utf8)
    #expect(csv.split(separator: "\n").count == 4)
  }

  @Test(arguments: [
    (["run", "models/absent.snn.h5"], "no such file"),
    (["run", "models/keras_fashion_mlp.h5"], "not a snnkit.snn file"),
    (["run", "x.snn.h5", "--timesteps", "4,2"], "--timesteps must be strictly increasing"),
    (["run", "x.snn.h5", "--timesteps", "0,2"], "positive integers"),
  ])
  func badInputFailsClearly(arguments: [String], expected: String) throws {
    let result = try runTool("snnsim", arguments)
    #expect(result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
  }

  @Test func convertRefusesANetworkWithoutAnInput() throws {
    let out = try makeTemporaryDirectory("refuse").appendingPathComponent("x.snn.h5").path
    let result = try runTool(
      "snnconv", ["convert", "Tests/ModelIOTests/Fixtures/keras3_tiny.keras", "-o", out])
    #expect(result.status != 0)
    #expect(result.stderr.contains("zip archive"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
  }
}
