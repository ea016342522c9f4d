import Foundation
import TestSupport
import Testing

/// One-byte corruptions of a small Keras model and of a small `.snn.h5`, each read by
/// `snnconv inspect`: every one must end in a clean success or a clean error — never a signal,
/// even where libhdf5 itself crashes on the damaged file (the tools read files in a child
/// process first, docs/limits.md).
@Suite struct BitFlipTests {
  static let model = repositoryRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures/keras3_func_mlp.h5")
    .path
  /// Positions whose flip (XOR 0xFF) crashed libhdf5 1.10.8 (Debian 12) reading `model`, found
  /// by a sweep over every seventh byte; the rest of each case list is a stride over the file.
  static let crashingPositions = [2121, 7882, 7910, 8057, 8092, 12663, 12677, 22638, 25543, 25557]

  static let network: String = {
    let path = try! makeTemporaryDirectory("bitflip").appendingPathComponent("small.snn.h5").path
    let result = try! runTool(
      "snnconv", ["convert", model, "--normalize", "none", "-o", path])
    precondition(result.status == 0, result.stderr)
    return path
  }()

  /// Flips each position in turn and checks the outcome; `stride` picks positions over the file.
  func sweep(_ file: String, stride: Int, offset: Int, extra: [Int] = []) throws {
    let original = try Data(contentsOf: URL(fileURLWithPath: file))
    let copy = try makeTemporaryDirectory("flipped").appendingPathComponent("flipped.h5").path
    let positions = Array(Swift.stride(from: offset, to: original.count, by: stride)) + extra
    for position in positions {
      var bytes = original
      bytes[position] ^= 0xFF
      try bytes.write(to: URL(fileURLWithPath: copy))
      let outcome = try runToolOutcome("snnconv", ["inspect", copy])
      #expect(!outcome.signaled, "byte \(position): signal \(outcome.status)\n\(outcome.stderr.prefix(300))")
      #expect(outcome.status == 0 || outcome.status == 1, "byte \(position): exit \(outcome.status)")
      if outcome.status == 1 {
        #expect(
          outcome.stderr.contains(copy), "byte \(position): message does not name the file: \(outcome.stderr)"
        )
      }
    }
  }

  @Test(arguments: 0..<4)
  func kerasModel(shard: Int) throws {
    try sweep(Self.model, stride: 97 * 4, offset: shard * 97, extra: shard == 0 ? Self.crashingPositions : [])
  }

  @Test(arguments: 0..<4)
  func spikingNetwork(shard: Int) throws {
    let size = try FileManager.default.attributesOfItem(atPath: Self.network)[.size] as! Int
    let stride = max(1, size / 400)
    try sweep(Self.network, stride: stride * 4, offset: shard * stride)
  }
}
