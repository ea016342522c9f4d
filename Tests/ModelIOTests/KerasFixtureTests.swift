import Foundation
import Graph
import HDF5
import ModelIO
import Tensor
import TestSupport
import Testing

/// Models written by real Keras (tools/make_keras_fixtures.py; versions in each
/// `*.expected.h5`'s `made_with` attribute), with the outputs Keras computed for a random batch.
@Suite struct KerasFixtureTests {
  static let fixtures = repositoryRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures")

  static var names: [String] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []
    return files.filter { $0.hasSuffix(".expected.h5") }.map { String($0.dropLast(".expected.h5".count)) }
      .sorted()
  }

  static func expected(_ name: String) throws -> (inputs: Tensor<Float>, outputs: Tensor<Float>) {
    let root = try HDF5File.open(fixtures.appendingPathComponent("\(name).expected.h5").path).root
    func load(_ key: String) throws -> Tensor<Float> {
      let dataset = try root.dataset(key)
      return Tensor(shape: try dataset.shape, scalars: try dataset.read(as: Float.self))
    }
    return (try load("inputs"), try load("outputs"))
  }

  @Test func fixturesArePresent() {
    #expect(Self.names.filter { $0.hasPrefix("keras3_") }.count >= 4)
  }

  @Test(arguments: names)
  func predictionsMatchKeras(name: String) throws {
    let graph = try KerasModelReader.read(Self.fixtures.appendingPathComponent("\(name).h5").path)
    let (inputs, outputs) = try Self.expected(name)
    let predicted = graph.predict([inputs])[0]
    #expect(predicted.shape == outputs.shape)
    assertClose(predicted.scalars, outputs.scalars, rtol: 0, atol: 1e-4, name)
  }

  /// The fixtures' expected outputs are trustworthy: an independent float64 numpy evaluation
  /// (tools/numpy_reference.py) lands within 2e-5 of them, well inside the 1e-4 allowed above.
  @Test(.enabled(if: pythonHas("h5py", "numpy"), "needs python3 with h5py and numpy"), arguments: names)
  func float64ReferenceAgreesWithKeras(name: String) throws {
    let script = repositoryRoot.appendingPathComponent("tools/numpy_reference.py").path
    let result = try runProcess(
      "python3",
      [
        script, Self.fixtures.appendingPathComponent("\(name).h5").path,
        Self.fixtures.appendingPathComponent("\(name).expected.h5").path,
      ])
    try #require(result.status == 0, "\(result.output)")
    let difference = try #require(Double(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(difference < 2e-5, "\(name): float64 reference differs from Keras by \(difference)")
  }
}
