import Foundation
import HDF5
import TestSupport
import Testing

/// The `snnconv` tool run as a user runs it, on the shipped Keras-trained Fashion-MNIST MLP
/// (tools/make_keras_fashion_model.py; Keras's own results in the reference file beside the
/// ModelIO fixtures).
@Suite(.needsFashionMNIST) struct SNNConvTests {
  let model = "models/keras_fashion_mlp.h5"
  let reference = repositoryRoot.appendingPathComponent(
    "Tests/ModelIOTests/Fixtures/keras_fashion_mlp.reference.h5"
  ).path

  @Test func evalMatchesKerasAccuracyOnTheFullTestSet() throws {
    let result = try runTool("snnconv", ["eval", model, "--data", "fashion-mnist", "--split", "test"])
    #expect(result.status == 0, "\(result.stderr)")
    let kerasAccuracy = try HDF5File.open(reference).root.readAttribute("test_accuracy", as: Double.self)[0]
    let correct = Int((kerasAccuracy * 10_000).rounded())
    // Summation order differs from Keras's, so a near-tie may flip: allow two images of 10,000.
    let printed = try #require(result.stdout.firstMatch(of: /\((\d+)\/10000\)/)).1
    #expect(abs(Int(printed)! - correct) <= 2, "\(result.stdout)")
  }

  /// Tuning reads training images only: a data folder without a test split still tunes, and the
  /// tuned file says what it was tuned for.
  @Test func tuningNeverReadsTheTestSplit() throws {
    let directory = try makeTemporaryDirectory("tune-train-only")
    let data = directory.appendingPathComponent("train-only")
    try FileManager.default.createDirectory(at: data, withIntermediateDirectories: false)
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
      try FileManager.default.createSymbolicLink(
        atPath: data.appendingPathComponent(name).path,
        withDestinationPath: "/usr/share/datasets/fashion-mnist/\(name)")
    }
    let output = directory.appendingPathComponent("tuned.snn.h5").path
    let convert = try runTool(
      "snnconv",
      [
        "convert", "models/mlp.h5", "--data", data.path, "--calibration", "100", "--target-timesteps", "4",
        "--tuning-images", "32", "-o", output,
      ])
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(convert.stdout.contains("tuned for T = 4 on 32 training images"), "\(convert.stdout)")
    let inspect = try runTool("snnconv", ["inspect", output])
    #expect(inspect.stdout.contains("tuned for T = 4"), "\(inspect.stdout)")
    // The same folder cannot be evaluated on: it has no test split.
    let eval = try runTool("snnconv", ["eval", "models/mlp.h5", "--data", data.path])
    #expect(eval.status != 0 && eval.stderr.contains("t10k-images-idx3-ubyte"), "\(eval.stderr)")
  }

  /// Unsigned IF neurons on GELU outputs: each GELU population is named on standard error and the
  /// file is still written; the signed IF neuron covers them and draws no warning.
  @Test func convertWarnsAboutIFOnSignedOutputs() throws {
    let directory = try makeTemporaryDirectory("warnings")
    let unsigned = directory.appendingPathComponent("if.snn.h5").path
    let convert = try runTool(
      "snnconv",
      ["convert", "models/mlp-gelu.h5", "--dynamics", "subgradient", "--calibration", "200", "-o", unsigned])
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(FileManager.default.fileExists(atPath: unsigned))
    for population in ["gelu_1", "gelu_2", "gelu_3"] {
      #expect(
        convert.stderr.contains("warning: population '\(population)' (gelu):")
          && convert.stderr.contains("integrate-and-fire neurons cannot emit"), "\(convert.stderr)")
    }
    let signed = try runTool(
      "snnconv",
      [
        "convert", "models/mlp-gelu.h5", "--dynamics", "subgradient", "--signed", "--calibration", "200",
        "-o",
        directory.appendingPathComponent("signed.snn.h5").path,
      ])
    #expect(signed.status == 0 && !signed.stderr.contains("warning"), "\(signed.stderr)")
  }

  @Test func evalWritesRawOutputsAsCSV() throws {
    let csv = try makeTemporaryDirectory("eval").appendingPathComponent("out.csv").path
    let result = try runTool("snnconv", ["eval", model, "--limit", "100", "--outputs", csv])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 101)
    #expect(lines[0] == "y0,y1,y2,y3,y4,y5,y6,y7,y8,y9")
    let ours = lines.dropFirst().flatMap { $0.split(separator: ",").map { Float($0)! } }
    let keras = try HDF5File.open(reference).root.dataset("outputs").read(as: Float.self)
    assertClose(ours, keras, rtol: 0, atol: 1e-4)
  }

  @Test func inspectPrintsTableAndJSON() throws {
    let table = try runTool("snnconv", ["inspect", model])
    #expect(table.status == 0)
    #expect(table.stdout.contains("keras_fashion_mlp: 7 nodes, 109386 parameters"))
    let json = try runTool("snnconv", ["inspect", model, "--json"])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    // One key convention in every JSON the tools write: snake_case.
    #expect(object?["total_parameters"] as? Int == 109_386)
    #expect((object?["rows"] as? [Any])?.count == 7)
  }

  @Test func evalPrintsJSONWhenAsked() throws {
    let line = try runTool("snnconv", ["eval", model, "--limit", "200"])
    let json = try runTool("snnconv", ["eval", model, "--limit", "200", "--json"])
    #expect(json.status == 0, "\(json.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let correct = try #require(object["correct"] as? Int)
    #expect(object["count"] as? Int == 200 && object["data"] as? String == "fashion-mnist/test")
    #expect(abs((object["accuracy"] as? Double ?? -1) - Double(correct) / 200) < 1e-12)
    #expect(line.stdout.contains("(\(correct)/200)"), "\(line.stdout)")
  }

  @Test(arguments: [
    (["eval", "models/absent.h5"], "cannot open HDF5 file 'models/absent.h5': no such file"),
    (["inspect", "Tests/ModelIOTests/Fixtures/keras3_tiny.keras"], "'.keras' zip archive"),
    (["eval", "models/keras_fashion_mlp.h5", "--limit", "0"], "--limit must be a positive number"),
    (["eval", "models/keras_fashion_mlp.h5", "--split", "validation"], "validation"),
    (["eval", "models/keras_fashion_mlp.h5", "--data", "nowhere"], "unknown data source 'nowhere'"),
    (
      ["eval", "Tests/ModelIOTests/Fixtures/keras3_seq_cnn.h5", "--limit", "5"],
      "the network expects inputs of shape [10, 9, 2]"
    ),
    (["convert-everything"], "Unexpected argument"),
  ])
  func badInputFailsWithAClearMessage(arguments: [String], expected: String) throws {
    let result = try runTool("snnconv", arguments)
    #expect(result.status != 0)
    #expect(result.stderr.contains(expected), "\(result.stderr)")
    #expect(!result.stderr.contains("Fatal error"))
  }

  @Test func failedEvalLeavesNoOutputFile() throws {
    let directory = try makeTemporaryDirectory("eval-fail")
    let csv = directory.appendingPathComponent("out.csv").path
    let result = try runTool(
      "snnconv", ["eval", "Tests/ModelIOTests/Fixtures/keras3_seq_cnn.h5", "--limit", "5", "--outputs", csv])
    #expect(result.status != 0)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
  }

  @Test func everyToolAnswersVersionAndHelp() throws {
    for tool in ["snntrain", "snnconv", "snnsim"] {
      let version = try runTool(tool, ["--version"])
      #expect(
        version.status == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
      let help = try runTool(tool, ["--help"])
      #expect(help.status == 0 && help.stdout.contains("USAGE: \(tool)"))
    }
  }

  /// Every option that takes a value says its default in `--help` (what happens without it),
  /// except the output a command needs; flags are off unless given.
  @Test(arguments: [
    ["snntrain", "fit"], ["snntrain", "bifurcation"], ["snnconv", "inspect"], ["snnconv", "eval"],
    ["snnconv", "convert"], ["snnconv", "export"], ["snnsim", "run"], ["snnsim", "report"],
    ["snnsim", "compare"],
  ])
  func everyOptionSaysItsDefault(command: [String]) throws {
    let help = try runTool(command[0], [command[1], "--help"])
    #expect(help.status == 0)
    // Each option's entry: its line and the indented lines of description that follow.
    var entries = [[String]]()
    for line in help.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
      if line.hasPrefix("  -") {
        entries.append([line])
      } else if line.hasPrefix("                  "), !entries.isEmpty {
        entries[entries.count - 1].append(line)
      } else {
        entries.append([])
      }
    }
    let options = entries.filter { !$0.isEmpty }.map { $0.joined(separator: " ") }
    #expect(options.count >= 3, "\(help.stdout)")
    for option in options {
      let takesValue = option.split(separator: " ").prefix(3).contains { $0.hasPrefix("<") }
      guard takesValue, !option.contains("--output <") else { continue }
      #expect(option.contains("default"), "\(command.joined(separator: " ")): \(option)")
    }
  }
}
