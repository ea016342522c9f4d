import Foundation
import TestSupport
import Testing

/// The same command gives the same bytes, run again or run with another number of threads; the
/// one field allowed to differ is a run's wall-clock `seconds` (docs/limits.md).
@Suite(.needsFashionMNIST) struct ReproducibilityTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("reproducible") }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
  func bytes(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }

  /// Text without the lines that hold wall-clock times (`seconds`, the step cost's `…_seconds`).
  func withoutSeconds(_ name: String) throws -> String {
    String(decoding: try bytes(name), as: UTF8.self).split(separator: "\n")
      .filter { !$0.contains("\"seconds\"") && !$0.contains("_seconds\"") }.joined(separator: "\n")
  }

  func run(_ tool: String, _ arguments: [String]) throws {
    let result = try runTool(tool, arguments)
    #expect(result.status == 0, "\(tool) \(arguments.joined(separator: " ")): \(result.stderr)")
  }

  @Test func trainingConversionAndSimulationRepeatBitForBit() throws {
    // Training a CNN: once on one thread, then on two, then on one again.
    for (name, threads) in [("a", "1"), ("b", "2"), ("c", "1")] {
      try run(
        "snntrain",
        [
          "fit", "--model", "cnn", "--epochs", "1", "--limit", "128", "--test-limit", "32", "--batch-size",
          "64",
          "--threads", threads, "-o", path("cnn-\(name).h5"),
        ])
    }
    #expect(try bytes("cnn-a.h5") == bytes("cnn-b.h5"), "1 and 2 threads trained different models")
    #expect(try bytes("cnn-a.h5") == bytes("cnn-c.h5"), "the same training gave different files")

    for name in ["a", "b"] {
      try run(
        "snnconv", ["convert", path("cnn-a.h5"), "--calibration", "64", "-o", path("cnn-\(name).snn.h5")])
    }
    #expect(try bytes("cnn-a.snn.h5") == bytes("cnn-b.snn.h5"), "the same conversion gave different files")

    for (name, threads) in [("one", "1"), ("two", "2")] {
      try run(
        "snnsim",
        [
          "run", path("cnn-a.snn.h5"), "--limit", "40", "--batch-size", "20", "--timesteps", "1,4,8",
          "--threads", threads, "--results", path("run-\(name).json"),
        ])
    }
    #expect(try bytes("run-one.csv") == bytes("run-two.csv"))
    #expect(try withoutSeconds("run-one.json") == withoutSeconds("run-two.json"))
    #expect(try withoutSeconds("run-one.json") != String(decoding: try bytes("run-one.json"), as: UTF8.self))
  }

  @Test func comparisonsRepeatWithAnyThreadCount() throws {
    for (name, threads) in [("one", "1"), ("two", "2")] {
      try run(
        "snnsim",
        [
          "compare", "models/mlp.h5", "--limit", "30", "--timesteps", "1,8", "--calibration", "50",
          "--threads", threads, "-o", path("compare-\(name)"),
        ])
    }
    let runs = try FileManager.default.contentsOfDirectory(atPath: path("compare-one/runs")).sorted()
    #expect(runs.count == 8, "\(runs)")  // four combinations, JSON and CSV each
    for file in runs {
      if file.hasSuffix(".json") {
        #expect(try withoutSeconds("compare-one/runs/\(file)") == withoutSeconds("compare-two/runs/\(file)"))
      } else {
        #expect(try bytes("compare-one/runs/\(file)") == bytes("compare-two/runs/\(file)"), "\(file)")
      }
    }
    // Every part of the report but the settings, which show each run's seconds.
    for file in ["accuracy.csv", "errors.csv", "convergence.csv", "activity.csv", "accuracy.svg"] {
      #expect(try bytes("compare-one/\(file)") == bytes("compare-two/\(file)"), "\(file)")
    }
  }
}
