import Graph
import Tensor

/// The spikes of one image, step by step, for a sample of each population's neurons: what a
/// raster plot draws (docs/snn-format.md, "Run records").
///
/// A layer decomposed into more than ``PopulationGroups/listedInFull`` populations is shown by
/// the population that stands for it (``PopulationGroups``). Rows are a fixed pseudo-random
/// sample of the population's neurons for one image (flat indices, row-major, channels last):
/// evenly spaced indices would fall on a few channels of a convolution's output.
public struct SpikeRaster: Sendable, Codable, Equatable {
  /// One population's rows.
  public struct Band: Sendable, Codable, Equatable {
    /// The population (or the spike encoder, named after the input node).
    public let population: String
    /// How tables label it (a decomposed layer: the layer and its number of populations).
    public let label: String
    public let dynamics: Dynamics
    /// Neurons the population has per image.
    public let neurons: Int
    /// The flat indices of the neurons shown, increasing.
    public let shown: [Int]
    /// Per shown neuron, one character per step: `+` a spike, `-` a negative spike (signed
    /// integrate-and-fire), `.` none.
    public let spikes: [String]

    public init(
      population: String, label: String, dynamics: Dynamics, neurons: Int, shown: [Int], spikes: [String]
    ) {
      self.population = population
      self.label = label
      self.dynamics = dynamics
      self.neurons = neurons
      self.shown = shown
      self.spikes = spikes
    }

    /// Spikes (either sign) of the shown neurons over all steps.
    public var spikeCount: Int { spikes.reduce(0) { $0 + $1.utf8.count { $0 != UInt8(ascii: ".") } } }
  }

  /// The image's position among the simulated images (0 the first), and its label.
  public let image: Int
  public let label: Int
  /// The steps shown: the run's largest T, at most ``maximumSteps``.
  public let steps: Int
  public let bands: [Band]

  public init(image: Int, label: Int, steps: Int, bands: [Band]) {
    self.image = image
    self.label = label
    self.steps = steps
    self.bands = bands
  }

  /// Neurons shown per population at most (the sample is seeded with the population's position
  /// in the graph).
  public static let rowsPerPopulation = 32
  /// Steps recorded at most: a longer run shows its first 256.
  public static let maximumSteps = 256

  /// `min(rows, neurons)` distinct flat indices in `0..<neurons`, increasing: all of them for a
  /// small population, else a uniform sample without replacement (Floyd's algorithm) from a
  /// SplitMix64 seeded with `seed`, the same on every machine.
  public static func sample(neurons: Int, rows: Int = rowsPerPopulation, seed: UInt64 = 0) -> [Int] {
    let count = min(max(rows, 0), neurons)
    guard count < neurons else { return Array(0..<neurons) }
    var random = SplitMix64(seed: seed)
    var chosen = Set<Int>()
    for j in (neurons - count)..<neurons {
      let pick = Int.random(in: 0...j, using: &random)
      chosen.insert(chosen.contains(pick) ? j : pick)
    }
    return chosen.sorted()
  }

  /// What makes the raster something no run could have recorded, or nil (field names as in
  /// the JSON, under `raster`).
  public var problem: String? {
    guard image >= 0 else { return "'raster.image' is \(image)" }
    guard (1...Self.maximumSteps).contains(steps) else {
      return "'raster.steps' is \(steps), outside 1…\(Self.maximumSteps)"
    }
    for (k, band) in bands.enumerated() {
      let field = "raster.bands[\(k)]"
      guard band.neurons >= 1 else { return "'\(field).neurons' is \(band.neurons)" }
      guard band.shown.count == band.spikes.count else {
        return "'\(field)' shows \(band.shown.count) neurons with \(band.spikes.count) spike rows"
      }
      if let bad = band.shown.firstIndex(where: { !(0..<band.neurons).contains($0) }) {
        return "'\(field).shown[\(bad)]' is \(band.shown[bad]), outside 0…\(band.neurons - 1)"
      }
      for (row, text) in band.spikes.enumerated() {
        guard text.utf8.count == steps, text.utf8.allSatisfy({ "+-.".utf8.contains($0) }) else {
          return "'\(field).spikes[\(row)]' is not \(steps) characters of '+', '-' and '.'"
        }
      }
    }
    return nil
  }
}

extension Simulator {
  /// Simulates image `index` of `images` alone for `steps` steps (at most
  /// ``SpikeRaster/maximumSteps``) and records the spikes of a sample of every reported
  /// population's neurons.
  static func raster(
    _ network: SpikingNetwork, images: Tensor<Float>, labels: [Int], index: Int, steps: Int,
    settings: SimulationSettings, reported: [Reported], inputScale: Float
  ) -> SpikeRaster {
    let lowered = LoweredNetwork(
      network, capacity: 1, update: settings.update, encoding: settings.input, inputScale: inputScale)
    let entries = PopulationGroups.entries(reported.map(\.node))
    let positions = entries.map { reported[$0.representative].position }
    lowered.recordSpikes(at: Set(positions))
    let image = images.rows(index..<(index + 1))
    lowered.load(input: image, chunkRows: 1) { _ in
      network.graph.activations([image], keeping: Set(lowered.constantNodes))
    }
    let shown = positions.map { SpikeRaster.sample(neurons: lowered.stages[$0].node.size, seed: UInt64($0)) }
    var rows = shown.map { $0.map { _ in [UInt8]() } }
    let count = min(steps, SpikeRaster.maximumSteps)
    for _ in 0..<count {
      lowered.step()
      for (k, position) in positions.enumerated() {
        let spikes = lowered.recordedSpikes(at: position)!
        for (row, neuron) in shown[k].enumerated() {
          let s = spikes[neuron]
          rows[k][row].append(s > 0 ? UInt8(ascii: "+") : s < 0 ? UInt8(ascii: "-") : UInt8(ascii: "."))
        }
      }
    }
    let bands = entries.enumerated().map { k, entry in
      let population = reported[entry.representative]
      return SpikeRaster.Band(
        population: population.node, label: entry.label, dynamics: population.dynamics,
        neurons: lowered.stages[positions[k]].node.size, shown: shown[k],
        spikes: rows[k].map { String(decoding: $0, as: UTF8.self) })
    }
    return SpikeRaster(image: index, label: labels[index], steps: count, bands: bands)
  }
}
