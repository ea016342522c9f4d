import Datasets
import Graph
import HDF5
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

/// Networks beyond ReLU, from the Keras fixtures: GELU, SiLU, leaky ReLU, LayerNorm (fused),
/// residual adds (func_mlp) and BatchNorm, max and average pooling, softmax (seq_cnn).
@Suite struct FusedPopulationTests {
  @Test(arguments: ["keras3_func_mlp", "keras3_seq_cnn", "keras3_func_res"])
  func signGDTracksTheANNOnEveryPopulation(name: String) throws {
    let fixtures = repositoryRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures")
    let graph = try KerasModelReader.read(fixtures.appendingPathComponent("\(name).h5").path)
    let inputs = try HDF5File.open(fixtures.appendingPathComponent("\(name).expected.h5").path).root.dataset(
      "inputs")
    let images = Tensor<Float>(shape: try inputs.shape, scalars: try inputs.read(as: Float.self))
    let network = try SpikingNetwork(graph, dynamics: .signGD, normalization: .max, calibration: images)
    let result = try Simulator.run(network, images: images, labels: [0, 1, 2, 0], timesteps: [16, 64, 128])
    for population in result.populations {
      #expect(
        population.meanAbsError[2] < population.meanAbsError[0],
        "\(name)/\(population.name): \(population.meanAbsError)")
      #expect(
        population.meanRelativeError[2] < 0.02, "\(name)/\(population.name): \(population.meanRelativeError)")
    }
  }
}

@Suite struct EngineAgreementTests {
  @Test(arguments: [Dynamics.signGD, .subgradient])
  func denseAndEventFormsAgreeToRounding(dynamics: Dynamics) throws {
    let fixtures = repositoryRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures")
    let graph = try KerasModelReader.read(fixtures.appendingPathComponent("keras3_func_res.h5").path)
    let inputs = try HDF5File.open(fixtures.appendingPathComponent("keras3_func_res.expected.h5").path).root
      .dataset("inputs")
    let images = Tensor<Float>(shape: try inputs.shape, scalars: try inputs.read(as: Float.self))
    let network = try SpikingNetwork(graph, dynamics: dynamics, normalization: .max, calibration: images)
    let dense = try Simulator.run(
      network, images: images, labels: [0, 1, 2, 3], timesteps: [8, 64, 256], engine: .dense)
    let event = try Simulator.run(
      network, images: images, labels: [0, 1, 2, 3], timesteps: [8, 64, 256], engine: .event)
    // Activations are of order 1, so float32 rounding accumulated over 256 steps is ~1e-6
    // absolute; beyond that the two forms must agree to 1e-4 relative.
    #expect(dense.accuracy == event.accuracy)
    for (a, b) in zip(dense.populations, event.populations) {
      for (x, y) in zip(a.meanAbsError, b.meanAbsError) {
        #expect(
          abs(x - y) <= 1e-6 + 1e-4 * abs(x), "\(a.name): dense \(a.meanAbsError), event \(b.meanAbsError)")
      }
    }
  }
}
