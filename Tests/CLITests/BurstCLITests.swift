import Foundation
import TestSupport
import Testing

/// Burst neurons from the command line: converted, swept by their bits, simulated, recorded,
/// reported against the bits sent, and refused by the NIR exporter.
@Suite(.needsFashionMNIST) struct BurstCLITests {
  /// The neuron settings given to a comparison reach every model that reads them (its base
  /// settings are made once, before the dynamics it crosses).
  @Test func compareGivesEachModelItsNeuronSettings() throws {
    let directory = try makeTemporaryDirectory("neuron-settings")
    let result = try runTool(
      "snnsim",
      [
        "compare", "models/mlp.h5", "--dynamics", "if,burst", "--normalize", "max", "--reset", "zero",
        "--neuron", "bits=3", "--calibration", "50", "--limit", "10", "--timesteps", "2", "-o",
        directory.path,
      ])
    #expect(result.status == 0, "\(result.stderr)")
    for (name, expected) in [("if-max", "if reset zero"), ("burst-max", "burst bits 3, reset zero")] {
      let inspect = try runTool(
        "snnconv", ["inspect", directory.appendingPathComponent("networks/\(name).snn.h5").path])
      #expect(inspect.stdout.contains(expected), "\(name): \(inspect.stdout)")
    }
  }

  @Test func burstRunsAreSweptRecordedAndReportedAgainstBits() throws {
    let directory = try makeTemporaryDirectory("burst")
    let result = try runTool(
      "snnsim",
      [
        "compare", "models/mlp.h5", "--dynamics", "if,burst", "--normalize", "max", "--sweep", "bits=1,2",
        "--calibration", "100", "--limit", "40", "--timesteps", "2,4,8", "-o", directory.path,
      ])
    #expect(result.status == 0, "\(result.stderr)")
    func record(_ name: String) throws -> [String: Any] {
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: directory.appendingPathComponent("runs/\(name).json"))) as? [String: Any]
        ?? [:]
    }
    let binary = try record("if-max")
    let one = try record("burst-max-bits-1")
    let two = try record("burst-max-bits-2")
    func settings(_ run: [String: Any]) -> [String: Any] { run["settings"] as? [String: Any] ?? [:] }
    #expect(settings(binary)["bits_per_step"] as? Double == 1)
    #expect(settings(two)["bits_per_step"] as? Double == 2)
    #expect((settings(two)["neuron"] as? [String: Any])?["bits"] as? Double == 2)
    // One bit per step is the membrane neuron: the same accuracy at every T.
    #expect(binary["accuracy"] as? [Double] == one["accuracy"] as? [Double])
    // The report plots accuracy against the bits sent beside accuracy against T.
    let page = try String(contentsOf: directory.appendingPathComponent("index.html"), encoding: .utf8)
    #expect(page.contains("Top-1 accuracy against bits sent"), "\(page.prefix(2000))")
    let plot = try String(contentsOf: directory.appendingPathComponent("accuracy-bits.svg"), encoding: .utf8)
    #expect(plot.contains("bits per neuron T·b"))
    // The network says its bits; NIR cannot hold it, and says why.
    let network = directory.appendingPathComponent("networks/burst-max-bits-2.snn.h5").path
    let inspect = try runTool("snnconv", ["inspect", network])
    #expect(inspect.stdout.contains("burst bits 2, reset subtract"), "\(inspect.stdout)")
    let export = try runTool(
      "snnconv", ["export", network, "-o", directory.appendingPathComponent("b.nir").path])
    #expect(export.status != 0 && export.stderr.contains("burst neurons send up to"), "\(export.stderr)")
    #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("b.nir").path))
  }
}
