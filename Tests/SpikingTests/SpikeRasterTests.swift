import Graph
import Tensor
import TestSupport
import Testing

@testable import Spiking

@Suite struct SpikeRasterTests {
  /// A 3×3 image, a 'same' convolution to 2 channels, ReLU (18 neurons: every one shown), a
  /// dense readout.
  static func smallGraph() throws -> Graph {
    var random = SeededRandom(seed: 3)
    func tensor(_ shape: [Int], _ scale: Float = 0.8) -> Tensor<Float> {
      Tensor(shape: shape, scalars: random.uniform(shape.reduce(1, *), in: -scale...scale))
    }
    return try Graph(
      name: "small",
      nodes: [
        Node(name: "x", op: .input(shape: [3, 3, 1])),
        Node(
          name: "conv", op: .conv2d(Conv2DAttributes(filters: 2, kernelSize: [3, 3], padding: .same)),
          inputs: ["x"], parameters: ["kernel": tensor([3, 3, 1, 2]), "bias": tensor([2], 0.2)]),
        Node(name: "relu", op: .activation(.relu), inputs: ["conv"]),
        Node(name: "flat", op: .flatten, inputs: ["relu"]),
        Node(
          name: "out", op: .dense(units: 3, useBias: true), inputs: ["flat"],
          parameters: ["kernel": tensor([18, 3], 1), "bias": tensor([3], 0.1)]),
      ])
  }

  /// The raster records exactly the spikes the simulation counts: with every neuron shown, its
  /// spikes over T steps are the run's spikes per neuron per step × neurons × T — whichever
  /// dynamics, engine (the event engine hands spikes weighted to the affine maps it drives) and
  /// input encoding (the encoder is a band too).
  @Test(
    arguments: [Dynamics.signGD, .subgradient, .signedSubgradient, .integrateAndFire],
    [AffineUpdate.dense, .event])
  func rasterSpikesAreTheSimulatedSpikes(dynamics: Dynamics, update: AffineUpdate) throws {
    let graph = try Self.smallGraph()
    var random = SeededRandom(seed: 9)
    let images = Tensor<Float>(shape: [3, 3, 3, 1], scalars: random.uniform(27, in: 0...1))
    let network = try SpikingNetwork(graph, dynamics: dynamics, normalization: .max, calibration: images)
    for input in [InputEncoding.analog, .rate] {
      let settings = SimulationSettings(timesteps: [40], update: update, input: input, rasterImage: 0)
      let one = images.rows(1..<2)
      let result = try Simulator.run(network, images: one, labels: [2], settings: settings)
      let raster = try #require(result.raster)
      #expect(raster.problem == nil)
      #expect(raster.steps == 40 && raster.label == 2 && raster.image == 0)
      #expect(raster.bands.map(\.population) == result.populations.map(\.name))
      for (band, population) in zip(raster.bands, result.populations) {
        #expect(band.shown == Array(0..<band.neurons), "\(band.population)")
        let counted = population.spikesPerNeuronPerStep[0] * Double(population.neurons * 40)
        #expect(
          Double(band.spikeCount) == counted.rounded(), "\(dynamics) \(update) \(input) \(band.population)")
        #expect(band.spikeCount > 0, "\(band.population) never fired")
        // Only the signed neuron sends negative spikes.
        let negative = band.spikes.contains { $0.contains("-") }
        #expect(!negative || band.dynamics == .signedSubgradient)
      }
    }
  }

  /// The raster's image is simulated alone: the same image recorded from a larger set (at
  /// another position, with other images around it) gives the same spikes.
  @Test func theRasterDoesNotDependOnTheOtherImages() throws {
    let graph = try Self.smallGraph()
    var random = SeededRandom(seed: 4)
    let images = Tensor<Float>(shape: [5, 3, 3, 1], scalars: random.uniform(45, in: 0...1))
    let network = try SpikingNetwork(graph, dynamics: .signGD, normalization: .max, calibration: images)
    let all = try Simulator.run(
      network, images: images, labels: [0, 1, 2, 0, 1],
      settings: SimulationSettings(timesteps: [8, 24], batchSize: 2, rasterImage: 3))
    let alone = try Simulator.run(
      network, images: images.rows(3..<4), labels: [0],
      settings: SimulationSettings(timesteps: [24], rasterImage: 0))
    #expect(all.raster?.image == 3 && all.raster?.label == 0)
    #expect(all.raster?.bands == alone.raster?.bands)
  }

  @Test func noRasterUnlessAskedFor() throws {
    let graph = try Self.smallGraph()
    let images = Tensor<Float>(shape: [1, 3, 3, 1], scalars: [Float](repeating: 0.5, count: 9))
    let network = try SpikingNetwork(graph, dynamics: .signGD, normalization: .max, calibration: images)
    #expect(try Simulator.run(network, images: images, labels: [0], timesteps: [4]).raster == nil)
  }

  @Test(arguments: [(1, 32), (18, 32), (196, 32), (5, 0), (1_000_003, 7), (25_088, 32)])
  func samplesAreDistinctNeuronsTheSameEveryTime(neurons: Int, rows: Int) {
    let shown = SpikeRaster.sample(neurons: neurons, rows: rows, seed: 7)
    #expect(shown.count == min(rows, neurons))
    #expect(zip(shown, shown.dropFirst()).allSatisfy { $0 < $1 })
    #expect(shown.allSatisfy { (0..<neurons).contains($0) })
    #expect(SpikeRaster.sample(neurons: neurons, rows: rows, seed: 7) == shown)
    if rows >= neurons { #expect(shown == Array(0..<neurons)) }
  }

  /// A convolution's output, channels last (28×28×32): the sample reaches many channels, where
  /// evenly spaced indices would land on two.
  @Test func aSampleOfAConvolutionSpansItsChannels() {
    let channels = Set(SpikeRaster.sample(neurons: 28 * 28 * 32, seed: 1).map { $0 % 32 })
    #expect(channels.count >= 12, "\(channels.sorted())")
  }

  @Test func malformedRastersAreNamed() {
    func band(_ spikes: [String], shown: [Int] = [0], neurons: Int = 4) -> SpikeRaster.Band {
      SpikeRaster.Band(
        population: "relu", label: "relu", dynamics: .signGD, neurons: neurons, shown: shown, spikes: spikes)
    }
    #expect(SpikeRaster(image: 0, label: 1, steps: 3, bands: [band(["+.-"])]).problem == nil)
    #expect(
      SpikeRaster(image: 0, label: 1, steps: 3, bands: [band(["+.x"])]).problem?.contains("spikes[0]") == true
    )
    #expect(
      SpikeRaster(image: 0, label: 1, steps: 3, bands: [band(["+."])]).problem?.contains("3 characters")
        == true)
    #expect(
      SpikeRaster(image: 0, label: 1, steps: 3, bands: [band(["..."], shown: [4])]).problem?.contains(
        "shown[0]") == true)
    #expect(
      SpikeRaster(image: 0, label: 1, steps: 3, bands: [band(["...", "..."])]).problem?.contains("shows 1")
        == true)
    #expect(SpikeRaster(image: -1, label: 1, steps: 3, bands: []).problem?.contains("image") == true)
    #expect(SpikeRaster(image: 0, label: 1, steps: 0, bands: []).problem?.contains("steps") == true)
  }
}

/// The mechanism jobs of several processes use, run within one: batches dealt over two
/// "ranks" and their measures merged give exactly the result of simulating every batch, and
/// each calibration chunk is run by one rank only.
@Suite struct ShardingTests {
  final class Box: @unchecked Sendable { var measures = [Int: BatchMeasures]() }
  struct Stop: Error {}

  @Test func batchesDealtOverTwoRanksGiveTheWholeResult() throws {
    let graph = try SpikeRasterTests.smallGraph()
    var random = SeededRandom(seed: 21)
    let images = Tensor<Float>(shape: [7, 3, 3, 1], scalars: random.uniform(63, in: 0...1))
    let labels = [0, 1, 2, 0, 1, 2, 0]
    let network = try SpikingNetwork(graph, dynamics: .signGD, normalization: .max, calibration: images)
    let settings = SimulationSettings(timesteps: [4, 16], batchSize: 2, threads: 1)
    let alone = try Simulator.run(network, images: images, labels: labels, settings: settings)
    // Rank 0 of 2: batches 0 and 2 (of 4), its measures kept, then stopped.
    let even = Box()
    #expect(throws: Stop.self) {
      try Simulator.run(
        network, images: images, labels: labels, settings: settings,
        sharding: Sharding(
          owns: { index, _ in index % 2 == 0 },
          exchange: { local in
            even.measures = local
            throw Stop()
          }, reports: true))
    }
    #expect(even.measures.keys.sorted() == [0, 2])
    // Rank 1: batches 1 and 3, merged with rank 0's.
    let odd = try Simulator.run(
      network, images: images, labels: labels, settings: settings,
      sharding: Sharding(
        owns: { index, _ in index % 2 == 1 },
        exchange: { local in
          #expect(local.keys.sorted() == [1, 3])
          return local.merging(even.measures) { mine, _ in mine }
        }, reports: false))
    #expect(odd.accuracy == alone.accuracy && odd.annAccuracy == alone.annAccuracy)
    // A job whose processes leave batches out is an error naming the first, not a crash.
    #expect {
      try Simulator.run(
        network, images: images, labels: labels, settings: settings,
        sharding: Sharding(owns: { index, _ in index % 2 == 0 }, exchange: { $0 }, reports: true))
    } throws: { "\($0)" == "no process of the job simulated batch 1" }
    #expect(odd.populations.map(\.meanAbsError) == alone.populations.map(\.meanAbsError))
    #expect(odd.populations.map(\.spikesPerNeuronPerStep) == alone.populations.map(\.spikesPerNeuronPerStep))
  }
}
