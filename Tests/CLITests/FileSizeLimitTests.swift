import Foundation
import TestSupport
import Testing

/// Writing past a file-size limit (`ulimit -f`), as on a full disk: the tool reports the failed
/// write and exits 1 — no signal, neither the one the limit sends nor a crash on the way out —
/// and leaves nothing behind, neither the output nor its temporary file.
@Suite struct FileSizeLimitTests {
  @Test(arguments: [
    ("snnconv", ["convert", "models/mlp.h5", "--calibration", "50", "-o", "OUT/net.snn.h5"]),
    (
      "snntrain",
      ["fit", "--model", "mlp", "--epochs", "1", "--limit", "200", "--test-limit", "0", "-o", "OUT/m.h5"]
    ),
    ("snnconv", ["export", "IN/mlp-if.snn.h5", "-o", "OUT/mlp.nir"]),
  ])
  func aWriteThatDoesNotFitEndsCleanly(tool: String, arguments: [String]) throws {
    let inputs = try makeTemporaryDirectory("file-size-in")
    let outputs = try makeTemporaryDirectory("file-size-out")
    if arguments.contains("IN/mlp-if.snn.h5") {
      let convert = try runTool(
        "snnconv",
        [
          "convert", "models/mlp.h5", "--dynamics", "if", "--calibration", "50", "-o",
          inputs.path + "/mlp-if.snn.h5",
        ])
      try #require(convert.status == 0, "\(convert.stderr)")
    }
    let resolved = arguments.map {
      $0.replacingOccurrences(of: "OUT/", with: outputs.path + "/").replacingOccurrences(
        of: "IN/", with: inputs.path + "/")
    }
    let outcome = try runToolUnderFileSizeLimit(kilobytes: 16, tool, resolved)
    #expect(!outcome.signaled, "\(tool) ended by signal \(outcome.status): \(outcome.stderr.suffix(600))")
    #expect(outcome.status == 1, "\(outcome.stderr.suffix(600))")
    #expect(outcome.stderr.contains("File too large"), "\(outcome.stderr.suffix(600))")
    let left = try FileManager.default.contentsOfDirectory(atPath: outputs.path)
    #expect(left.isEmpty, "left behind: \(left)")
  }
}
