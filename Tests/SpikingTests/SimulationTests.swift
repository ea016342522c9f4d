import Datasets
import Graph
import ModelIO
import Spiking
import Tensor
import TestSupport
import Testing

/// The converted Keras-trained ReLU MLP (models/keras_fashion_mlp.h5) on real test images.
@Suite struct SimulationTests {
  static let model = try! KerasModelReader.read(
    repositoryRoot.appendingPathComponent("models/keras_fashion_mlp.h5").path)
  static let test = try! DataSource.fashionMNIST.load(.test, limit: 300)
  static let calibration = try! DataSource.fashionMNIST.load(.train, limit: 500).images

  func simulate(_ dynamics: Dynamics, _ normalization: Normalization) throws -> SimulationResult {
    let network = try SpikingNetwork(
      Self.model, dynamics: dynamics, normalization: normalization, calibration: Self.calibration)
    return try Simulator.run(
      network, images: Self.test.images, labels: Self.test.labels, timesteps: [8, 16, 32, 64, 128])
  }

  @Test func signGDApproachesTheANNFasterThanIF() throws {
    let signGD = try simulate(.signGD, .max)
    let integrate = try simulate(.subgradient, .max)
    #expect(signGD.annAccuracy == integrate.annAccuracy)
    #expect(abs(signGD.accuracy[3] - signGD.annAccuracy) <= 0.01 + 1e-9)
    for (a, b) in zip(signGD.populations, integrate.populations) {
      #expect(a.meanAbsError[4] < b.meanAbsError[4])
      // Errors shrink with T.
      #expect(a.meanAbsError[4] < a.meanAbsError[0])
      #expect(b.meanAbsError[4] < b.meanAbsError[0])
    }
  }
}
