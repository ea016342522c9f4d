import Foundation
import TestSupport
import Testing

/// The whole pipeline from the command line: convert the shipped Keras MLP, simulate, read the
/// results back.
@Suite(.needsFashionMNIST) struct SNNSimTests {
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
    (["run", "x.snn.h5", "--timesteps", "0,2"], "integers in 1…1048576"),
    (["run", "x.snn.h5", "--input", "poisson"], "--input"),
    (["run", "x.snn.h5", "--data", "/nonexistent/idx"], "/nonexistent/idx"),
    (["report", "-o", "/tmp/never"], "at least one run file"),
    (["report", "absent.json", "-o", "/tmp/never"], "absent.json: no such run file"),
    (
      ["report", "docs/runs/mlp-signgd-max.json", "-o", "README.md"],
      "cannot write README.md: it exists and is not a directory"
    ),
    (
      ["report", "Package.swift", "-o", "/tmp/never"],
      "Package.swift: not a run written by 'snnsim run --results'"
    ),
    (
      ["compare", "models/keras_fashion_mlp.h5", "--dynamics", "lif", "-o", "/tmp/never"],
      "--dynamics takes a comma-separated list of subgradient, signgd, signed-subgradient; 'lif' is not one"
    ),
    (["compare", "models/keras_fashion_mlp.h5", "--normalize", "max,p101", "-o", "/tmp/never"], "pNN.N"),
  ])
  func badInputFailsClearly(arguments: [String], expected: String) throws {
    let result = try runTool("snnsim", arguments)
    #expect(result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
  }

  @Test func compareConvertsSimulatesAndReportsEveryCombination() throws {
    let directory = try makeTemporaryDirectory("compare")
    let result = try runTool(
      "snnsim",
      [
        "compare", "models/keras_fashion_mlp.h5", "--dynamics", "signgd,subgradient", "--normalize",
        "none,max",
        "--calibration", "100", "--limit", "40", "--timesteps", "4,16,64", "-o", directory.path,
      ])
    #expect(result.status == 0, "\(result.stderr)")
    for name in ["signgd-none", "signgd-max", "subgradient-none", "subgradient-max"] {
      #expect(result.stdout.contains("] \(name): accuracy"), "\(result.stdout)")
      let run = directory.appendingPathComponent("runs/\(name).json")
      let object = try JSONSerialization.jsonObject(with: Data(contentsOf: run)) as? [String: Any]
      #expect(object?["timesteps"] as? [Int] == [4, 16, 64])
    }
    let html = try String(contentsOf: directory.appendingPathComponent("index.html"), encoding: .utf8)
    // Accuracy, the ReLU op, and the two ReLU populations.
    #expect(html.components(separatedBy: "<svg").count - 1 == 4)
    #expect(html.contains("<td>subgradient, max</td>"))
    // The report command reproduces the page from the runs.
    let again = try makeTemporaryDirectory("report-again")
    let runs = ["signgd-none", "signgd-max", "subgradient-none", "subgradient-max"].map {
      directory.appendingPathComponent("runs/\($0).json").path
    }
    let report = try runTool("snnsim", ["report"] + runs + ["-o", again.path])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(try String(contentsOf: again.appendingPathComponent("index.html"), encoding: .utf8) == html)
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
