import Datasets
import Foundation
import Graph
import Tensor

/// The ReLU'(0) experiment of Bertoin et al. (NeurIPS 2021, "Numerical influence of ReLU'(0) on
/// backpropagation"): for each random initialization, two copies of a network train on the same
/// mini-batches, one with ReLU'(0) = 0 and one with ReLU'(0) = 1. The *bifurcation* is the first
/// batch at which their backpropagated first-layer gradients differ (bit for bit); where
/// pre-activations never hit exactly 0 the copies stay identical forever.
public struct BifurcationStudy: Sendable {
  public struct Settings: Sendable, Hashable, Codable {
    public var preset: ModelPreset
    public var precision: Precision
    /// Random initializations (each with its own shuffle).
    public var runs: Int
    /// Batches within which a difference counts as a bifurcation.
    public var batches: Int
    /// Epochs both copies train for before their weights are compared (0: only `batches`).
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var optimizer: OptimizerKind
    /// The two ReLU'(0) values compared.
    public var primes: [Double]
    public var seed: UInt64

    public init(
      preset: ModelPreset = .mlp, precision: Precision = .float32, runs: Int = 10, batches: Int = 600,
      epochs: Int = 1,
      batchSize: Int = 100, learningRate: Double = 0.1, optimizer: OptimizerKind = .sgd,
      primes: [Double] = [0, 1],
      seed: UInt64 = 0
    ) {
      self.preset = preset
      self.precision = precision
      self.runs = runs
      self.batches = batches
      self.epochs = epochs
      self.batchSize = batchSize
      self.learningRate = learningRate
      self.optimizer = optimizer
      self.primes = primes
      self.seed = seed
    }
  }

  /// One initialization's outcome.
  public struct Run: Sendable, Hashable, Codable {
    public let seed: UInt64
    /// The 1-based batch at which the first-layer gradients first differed, nil if they never did
    /// within the batches trained.
    public let firstDifference: Int?
    /// Exact zeros met by ReLU inputs in the ReLU'(0) = 0 copy, over all batches trained.
    public let zeroPreActivations: Int
    /// `Σ |w₀ − w₁|` over every parameter after training.
    public let weightDistance: Double
    /// Test accuracy of each copy after training.
    public let testAccuracy: [Double]
  }

  public struct Result: Sendable, Codable {
    public let settings: Settings
    public let runs: [Run]

    /// The fraction of runs whose gradients differed within `settings.batches` batches.
    public var bifurcationRatio: Double {
      runs.isEmpty
        ? 0
        : Double(runs.filter { ($0.firstDifference ?? .max) <= settings.batches }.count) / Double(runs.count)
    }
    public var meanWeightDistance: Double {
      runs.map(\.weightDistance).reduce(0, +) / Double(max(runs.count, 1))
    }
    /// The median first-difference batch among the runs that bifurcated.
    public var medianFirstDifference: Int? {
      let values = runs.compactMap(\.firstDifference).sorted()
      return values.isEmpty ? nil : values[values.count / 2]
    }
  }

  /// Runs the study.
  /// - Parameter progress: (runs done, total runs).
  public static func run(
    _ settings: Settings, train: LabeledImages, test: LabeledImages,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> Result {
    var runs = [Run]()
    for index in 0..<settings.runs {
      let seed = settings.seed &+ UInt64(index)
      switch settings.precision {
      case .float64: runs.append(try single(settings, seed: seed, train: train, test: test, as: Double.self))
      case .float32, .float16:
        runs.append(try single(settings, seed: seed, train: train, test: test, as: Float.self))
      }
      progress(index + 1, settings.runs)
    }
    return Result(settings: settings, runs: runs)
  }

  static func single<Scalar: TensorScalar>(
    _ settings: Settings, seed: UInt64, train: LabeledImages, test: LabeledImages, as: Scalar.Type
  ) throws -> Run {
    var random = SplitMix64(seed: seed)
    let graph = try settings.preset.build(random: &random)
    let half = settings.precision == .float16
    var networks = try settings.primes.map {
      try TrainingNetwork<Scalar>(graph: graph, roundsToHalf: half, policy: SubgradientPolicy(reluPrime: $0))
    }
    var optimizers = networks.map {
      Optimizer<Scalar>(
        settings: OptimizerSettings(kind: settings.optimizer), roundsToHalf: half, parameters: $0.parameters,
        trainable: Trainer.trainable)
    }
    let images: Tensor<Scalar> = try graph.adaptInput(train.images).converted()
    let firstLayer = graph.nodes.firstIndex { !$0.parameters.isEmpty }!
    let reluNodes = graph.nodes.indices.filter { index in
      guard case .activation(.relu) = graph.nodes[index].op else { return false }
      return true
    }
    var shuffle = SplitMix64(seed: seed).split(1)
    var unused = SplitMix64(seed: 0)
    var firstDifference: Int?
    var zeros = 0
    var order = Array(0..<train.count)
    let perEpoch = train.count / settings.batchSize
    let totalBatches = max(settings.batches, settings.epochs * perEpoch)
    for batch in 0..<totalBatches {
      if batch % perEpoch == 0 { order.shuffle(using: &shuffle) }
      let start = (batch % perEpoch) * settings.batchSize
      let indices = Array(order[start..<(start + settings.batchSize)])
      let input = images.gatherRows(indices)
      let labels = indices.map { train.labels[$0] }
      var firstGradients = [Tensor<Scalar>]()
      for copy in networks.indices {
        let batch = Trainer.gradients(
          &networks[copy], input: input, labels: labels, loss: .crossEntropy, random: &unused)
        if copy == 0 {
          for node in reluNodes {
            zeros += batch.tape.values[inputIndex(of: node, in: graph)].scalars.lazy.filter { $0 == 0 }.count
          }
        }
        firstGradients.append(batch.gradients[firstLayer]["kernel"]!)
        optimizers[copy].step(
          &networks[copy].parameters, gradients: batch.gradients, rate: settings.learningRate)
      }
      if firstDifference == nil && firstGradients.dropFirst().contains(where: { $0 != firstGradients[0] }) {
        firstDifference = batch + 1
      }
    }
    var distance = 0.0
    for index in graph.nodes.indices {
      for (name, tensor) in networks[0].parameters[index] where Trainer.trainable.contains(name) {
        let other = networks[networks.count - 1].parameters[index][name]!
        for i in 0..<tensor.count { distance += Double(abs(tensor.scalars[i] - other.scalars[i])) }
      }
    }
    let testImages: Tensor<Scalar> = try graph.adaptInput(test.images).converted()
    let accuracies = networks.indices.map {
      Trainer.accuracy(of: &networks[$0], images: testImages, labels: test.labels)
    }
    return Run(
      seed: seed, firstDifference: firstDifference, zeroPreActivations: zeros, weightDistance: distance,
      testAccuracy: accuracies)
  }

  private static func inputIndex(of node: Int, in graph: Graph) -> Int {
    graph.nodes.firstIndex { $0.name == graph.nodes[node].inputs[0] }!
  }
}
