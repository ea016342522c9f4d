import Datasets
import Foundation
import Graph
import Tensor
import TestSupport
import Testing

@testable import Training

@Suite(.needsFashionMNIST) struct TrainerTests {
  /// 512 training and 256 test images, read once; a failure to read them fails the tests that
  /// use them instead of the whole run.
  static let loaded = Result {
    (
      train: try DataSource.fashionMNIST.load(.train, limit: 512),
      test: try DataSource.fashionMNIST.load(.test, limit: 256)
    )
  }
  static var train: LabeledImages { get throws { try loaded.get().train } }
  static var test: LabeledImages { get throws { try loaded.get().test } }

  func run(
    _ preset: ModelPreset, precision: Precision, seed: UInt64 = 7, reluPrime: Double = 0, epochs: Int = 1
  ) throws -> (Graph, [EpochReport]) {
    var random = SplitMix64(seed: seed)
    let graph = try preset.build(random: &random)
    let configuration = TrainingConfiguration(
      epochs: epochs, batchSize: 64, learningRate: 1e-3, precision: precision,
      policy: SubgradientPolicy(reluPrime: reluPrime),
      seed: seed)
    let result = try Trainer.fit(graph, train: Self.train, test: Self.test, configuration: configuration)
    return (result.graph, result.history)
  }

  /// A network ending in a softmax (as Keras classifiers often do) trained with the
  /// cross-entropy trains its logits: the same weights as the network without the softmax, not
  /// the flattened gradients of a softmax applied twice; the softmax stays in the result.
  @Test func aFinalSoftmaxIsNotAppliedTwice() throws {
    var random = SplitMix64(seed: 3)
    let logits = try ModelPreset.mlp.build(random: &random)
    let output = logits.outputs[0]
    let withSoftmax = try Graph(
      name: logits.name, nodes: logits.nodes + [Node(name: "probabilities", op: .softmax, inputs: [output])])
    let configuration = TrainingConfiguration(epochs: 1, batchSize: 64, learningRate: 1e-3, seed: 3)
    let plain = try Trainer.fit(logits, train: Self.train, configuration: configuration).graph
    let wrapped = try Trainer.fit(withSoftmax, train: Self.train, configuration: configuration).graph
    #expect(wrapped.outputs == ["probabilities"])
    #expect(wrapped.node("probabilities")?.op == .softmax)
    for node in plain.nodes {
      #expect(wrapped.node(node.name)?.parameters == node.parameters, "\(node.name)")
    }
    #expect(Trainer.softmaxAppliedByLoss(withSoftmax, loss: .squaredError) == nil)
  }

  /// The activations a step keeps: every node's values for the rows computed at once. The MLP
  /// preset (784 → 128 → ReLU → 10, with its flatten and input nodes) measured against its own
  /// shapes; a limit below them refuses the network before the first batch, naming the sizes,
  /// and the limit just above them trains.
  @Test func aNetworkWhoseActivationsDoNotFitIsRefused() throws {
    var random = SplitMix64(seed: 3)
    let graph = try ModelPreset.mlp.build(random: &random)
    let values = graph.nodes.reduce(0) { $0 + $1.shape.reduce(1, *) }
    #expect(Trainer.activationBytes(graph, rows: 64, scalarBytes: 4) == values * 64 * 4)
    #expect(Trainer.activationBytes(graph, rows: Int.max / 2, scalarBytes: 8) == .max)
    var configuration = TrainingConfiguration(epochs: 1, batchSize: 64, seed: 3, threads: 1)
    configuration.memoryLimit = values * 64 * 4 - 1
    #expect(
      throws: TrainingError.exceedsMemory(
        needed: values * 64 * 4, available: values * 64 * 4 - 1, nodes: graph.nodes.count, rows: 64)
    ) { try Trainer.fit(graph, train: Self.train, configuration: configuration) }
    configuration.memoryLimit = values * 64 * 4
    #expect(try Trainer.fit(graph, train: Self.train, configuration: configuration).history.count == 1)
    // Double precision keeps twice the bytes.
    configuration.precision = .float64
    #expect(throws: TrainingError.self) {
      try Trainer.fit(graph, train: Self.train, configuration: configuration)
    }
    #expect(Trainer.memoryAvailable > 0)
  }

  @Test func sameSeedGivesBitIdenticalWeights() throws {
    let (a, _) = try run(.mlp, precision: .float32)
    let (b, _) = try run(.mlp, precision: .float32)
    #expect(a == b)
    let (c, _) = try run(.mlp, precision: .float32, seed: 8)
    #expect(a != c)
  }

  /// Batches are cut into shards of 64 rows computed on any free thread; the cut depends on the
  /// batch size alone, so the thread count changes no bit — with dropout (one stream per shard)
  /// and a batch size that leaves a short last shard, in every precision.
  @Test(arguments: Precision.allCases)
  func threadCountChangesNoWeight(precision: Precision) throws {
    let json = """
      {"name": "dropout-mlp", "input": [28, 28, 1], "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 64, "activation": "relu"},
        {"type": "dropout", "rate": 0.3}, {"type": "dense", "units": 10}]}
      """
    let description = try JSONDecoder().decode(ModelDescription.self, from: Data(json.utf8))
    func train(threads: Int) throws -> Graph {
      var random = SplitMix64(seed: 4)
      let graph = try description.build(random: &random)
      let configuration = TrainingConfiguration(
        epochs: 1, batchSize: 100, precision: precision, seed: 4, threads: threads)
      return try Trainer.fit(graph, train: Self.train, configuration: configuration).graph
    }
    let one = try train(threads: 1)
    #expect(one == (try train(threads: 2)))
    #expect(one == (try train(threads: 3)))
  }

  @Test(arguments: Precision.allCases)
  func everyPrecisionLearns(precision: Precision) throws {
    let (graph, history) = try run(.mlp, precision: precision, epochs: 3)
    // 512 images, 3 epochs: far above the 10 % of guessing, and the loss falls.
    #expect(history.last!.testAccuracy! > 0.6, "\(precision): \(history)")
    #expect(history.last!.loss < history.first!.loss)
    if precision == .float16 {
      // Every stored weight is a binary16 value.
      for node in graph.nodes {
        for tensor in node.parameters.values {
          #expect(tensor.scalars.allSatisfy { Float(Float16($0)) == $0 })
        }
      }
    }
  }

  @Test func reluPrimeIsUsedWherePreActivationsAreExactlyZero() throws {
    // Blank images make every first-layer pre-activation equal its bias, exactly 0 at
    // initialization: with s = 0 no gradient passes the first ReLU, with s = 1 it all does.
    let blank = LabeledImages(
      images: Tensor(zeros: [64, 28, 28, 1]), labels: (0..<64).map { $0 % 10 },
      classNames: try Self.train.classNames,
      name: "blank")
    func train(_ s: Double) throws -> Graph {
      var random = SplitMix64(seed: 3)
      let graph = try ModelPreset.mlp.build(random: &random)
      let configuration = TrainingConfiguration(
        epochs: 1, batchSize: 64, optimizer: OptimizerSettings(kind: .sgd),
        policy: SubgradientPolicy(reluPrime: s), seed: 3)
      return try Trainer.fit(graph, train: blank, configuration: configuration).graph
    }
    let zero = try train(0)
    let one = try train(1)
    #expect(zero.node("dense_1")!.parameters["bias"]!.scalars.allSatisfy { $0 == 0 })
    #expect(one.node("dense_1")!.parameters["bias"]!.scalars.contains { $0 != 0 })
    #expect(zero.node("dense_3")!.parameters["bias"] != one.node("dense_3")!.parameters["bias"])
  }

  @Test func everyPresetBuildsAndTrainsAStep() throws {
    for preset in ModelPreset.allCases {
      var random = SplitMix64(seed: 1)
      let graph = try preset.build(random: &random)
      #expect(graph.node(graph.outputs[0])!.shape == [10], "\(preset)")
      let configuration = TrainingConfiguration(epochs: 1, batchSize: 256, seed: 1)
      let result = try Trainer.fit(graph, train: Self.train.prefix(256), configuration: configuration)
      #expect(result.history.count == 1 && result.history[0].loss.isFinite, "\(preset)")
    }
  }
}
