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
    let eval = try runTool("snnconv", ["eval", path, "--limit", "128", "--json"])
    #expect(eval.status == 0, "\(eval.stderr)")
    let score = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any]
    #expect(score?["name"] as? String == "mlp" && score?["data"] as? String == "fashion-mnist/test")

    // --json: the history on standard output (the same run, the same numbers), the lines on
    // standard error.
    let again = try runTool(
      "snntrain",
      [
        "fit", "--model", "mlp", "--epochs", "1", "--limit", "256", "--test-limit", "128", "--batch-size",
        "64", "--seed", "3", "-o", path, "--json",
      ])
    #expect(again.status == 0 && again.stderr.contains("epoch 1/1"), "\(again.stderr)")
    let history = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
    let epochs = history?["epochs"] as? [[String: Any]]
    #expect(epochs?.count == 1 && history?["output"] as? String == path)
    let test = try #require(epochs?.first?["test_accuracy"] as? Double)
    #expect(fit.stdout.contains(String(format: "test %.2f%%", test * 100)), "\(fit.stdout)")
  }

  /// OpenBLAS splits a product differently with a different number of threads, and the last bits
  /// of the result change with the split; the toolkit runs it on one thread so that a model
  /// trained on a 2-core machine matches one trained on 64 cores, bit for bit.
  @Test func trainedWeightsDoNotDependOnTheBLASThreadCount() throws {
    let directory = try makeTemporaryDirectory("blas-threads")
    var weights: [[String: [Float]]] = []
    for threads in ["1", "2"] {
      let path = directory.appendingPathComponent("mlp-\(threads).h5").path
      let fit = try runTool(
        "snntrain",
        [
          "fit", "--model", "mlp", "--epochs", "1", "--limit", "512", "--test-limit", "0", "--batch-size",
          "64",
          "-o", path,
        ], environment: ["OPENBLAS_NUM_THREADS": threads])
      #expect(fit.status == 0, "\(fit.stderr)")
      let root = try HDF5File.open(path).root
      var stored: [String: [Float]] = [:]
      for layer in ["dense_1", "dense_2", "dense_3", "dense_4"] {
        for parameter in ["kernel", "bias"] {
          let name = "model_weights/\(layer)/\(layer)/\(parameter)"
          stored[name] = try root.dataset(name).read(as: Float.self)
        }
      }
      weights.append(stored)
    }
    #expect(weights[0].count == 8)
    #expect(weights[0] == weights[1])
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
    (["fit", "--epochs", "0", "-o", "/tmp/x.h5"], "--epochs must be in 1…1000000, got 0"),
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
