import Foundation
import HDF5
import TestSupport
import Testing

@Suite(.needsFashionMNIST) struct SNNTrainTests {
  @Test func fitWritesAModelThatSnnconvEvaluates() throws {
    let path = try makeTemporaryDirectory("fit").appendingPathComponent("tiny.h5").path
    let fit = try runTool(
      "snntrain",
      [
        "fit", "--model", "mlp", "--epochs", "1", "--limit", "256", "--test-limit", "128", "--batch-size",
        "64", "--seed", "3", "-o", path,
      ])
    #expect(fit.status == 0, "\(fit.stderr)")
    #expect(fit.stdout.contains("epoch 1/1"))
    #expect(fit.stdout.contains("saved \(path)"))
    let eval = try runTool("snnconv", ["eval", path, "--limit", "128"])
    #expect(eval.status == 0, "\(eval.stderr)")
    #expect(eval.stdout.contains("mlp on fashion-mnist/test"))
  }

  @Test func bifurcationWritesJSON() throws {
    let path = try makeTemporaryDirectory("bifurcation").appendingPathComponent("study.json").path
    let result = try runTool(
      "snntrain",
      [
        "bifurcation", "--runs", "1", "--batches", "3", "--epochs", "0", "--limit", "300", "--precision",
        "float16,float64", "--json", path,
      ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("| float16 | 1 |") && result.stdout.contains("| float64 | 1 |"))
    let json =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [[String: Any]]
    #expect(json?.count == 2)
  }

  @Test(arguments: [
    (["fit", "--model", "nosuch", "-o", "/tmp/x.h5"], "is neither a preset"),
    (["fit", "--precision", "float8", "-o", "/tmp/x.h5"], "float8"),
    (["fit", "--epochs", "0", "-o", "/tmp/x.h5"], "--epochs must be positive"),
    (["fit", "--relu-prime", "nan", "-o", "/tmp/x.h5"], "--relu-prime must be a finite number"),
    (["fit", "--model", "mlp"], "Missing expected argument '--output"),
    (
      ["bifurcation", "--precision", "float16,half"],
      "--precision takes a comma-separated list of float16, float32, float64; 'half' is not one"
    ),
  ])
  func badFlagsAreRefused(arguments: [String], expected: String) throws {
    let result = try runTool("snntrain", arguments)
    #expect(result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
  }
}
