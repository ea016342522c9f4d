import ArgumentParser
import Datasets
import Distributed
import Foundation
import Graph
import ModelIO
import Pipeline
import Tensor
import ToolSupport
import Training

extension SNNTrain {
  struct Fit: ParsableCommand, WorkSharing {
    static let configuration = CommandConfiguration(
      abstract: "Train a network on a data set and save it as a Keras HDF5 model.",
      discussion: """
        MODEL is a preset (\(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))), a JSON model \
        description (docs/training.md), or an existing Keras HDF5 file to continue training. Every non-differentiable point uses the subgradient you choose \
        (--relu-prime, --max-pool-tie); --precision float16 rounds every value to IEEE half after each operation.
        """)

    @Option(
      name: .long,
      help: ArgumentHelp(
        "Data source: 'fashion-mnist' or a directory of IDX files (default: fashion-mnist).",
        valueName: "source"),
      transform: parseDataSource)
    var data: DataSource = .fashionMNIST

    @OptionGroup(title: "Preprocessing") var preprocessing: PreprocessingOptions

    @Option(help: ArgumentHelp("Train on the first N training images only (default: all).", valueName: "N"))
    var limit: Int?

    @Option(
      help: ArgumentHelp(
        "Score on the first N test images after each epoch (0: skip; default: all).", valueName: "N"))
    var testLimit: Int?

    @Option(
      help: ArgumentHelp("A preset name, a JSON model description or a Keras .h5 file.", valueName: "MODEL"))
    var model: String = "mlp"

    @Option(
      help: ArgumentHelp(
        "Replace every hidden activation of a preset (\(UnaryFunction.namesList); default: the preset's own).",
        valueName: "name"),
      transform: parseActivation)
    var activation: UnaryFunction?

    @Option var epochs = 10
    @Option var batchSize = 128
    @Option(help: "Optimizer.") var optimizer: OptimizerKind = .adam
    @Option(help: "Learning rate.") var lr = 1e-3
    @Option(help: "Momentum in [0, 1) for momentum and nesterov (default 0.9).") var momentum: Double?
    @Option(help: "Decoupled weight decay on kernels.") var weightDecay = 0.0
    @Option(help: "Learning-rate schedule.") var schedule: ScheduleChoice = .constant
    @Option(help: "For --schedule step: epochs between decays (default 5).") var stepEpochs: Int?
    @Option(help: "For --schedule step: factor per decay in (0, 1] (default 0.1).") var stepFactor: Double?
    @Option(help: "Loss on the network's output.") var loss: Loss = .crossEntropy
    @Flag(help: "Print the training history as JSON when done (progress lines go to standard error).")
    var json = false

    func say(_ line: String) { printMessage(line, aside: json) }

    /// What --json prints.
    struct History: Codable {
      let model: String
      let output: String
      let epochs: [EpochReport]
    }
    @Option(
      help: ArgumentHelp("The derivative used where ReLU's input is exactly 0 (any real).", valueName: "S"))
    var reluPrime = 0.0
    @Option(help: "Which tied maximum of a max-pooling window gets the gradient.")
    var maxPoolTie: MaxTieRule = .first
    @Option(help: "Arithmetic to train in.") var precision: Precision = .float32
    @Option(help: "Seed for initialization, shuffling and dropout.") var seed: UInt64 = 0
    @Option(
      help: ArgumentHelp(
        "Threads, each computing shards of 64 images of every batch (default: one per core; in a job, the cores shared among the machine's ranks). The weights do not depend on it; networks with BatchNorm run each batch as one shard.",
        valueName: "N"))
    var threads: Int?
    @Option(
      name: [.short, .long], help: ArgumentHelp("Where to save the trained model.", valueName: "model.h5"))
    var output: String

    func validate() throws {
      try ToolLimits.check(epochs, "--epochs", in: 1...ToolLimits.epochs)
      try ToolLimits.check(batchSize, "--batch-size", in: 1...ToolLimits.images)
      try ToolLimits.check(lr, "--lr", in: 0...1e6, openBelow: true)
      if let momentum { try ToolLimits.check(momentum, "--momentum", in: 0...0.999_999) }
      try ToolLimits.check(weightDecay, "--weight-decay", in: 0...1e6)
      if let stepEpochs { try ToolLimits.check(stepEpochs, "--step-epochs", in: 1...ToolLimits.epochs) }
      if let stepFactor { try ToolLimits.check(stepFactor, "--step-factor", in: 0...1, openBelow: true) }
      guard reluPrime.isFinite else {
        throw ValidationError("--relu-prime must be a finite number, got \(reluPrime)")
      }
      if let limit { try ToolLimits.check(limit, "--limit", in: 1...ToolLimits.images) }
      if let testLimit { try ToolLimits.check(testLimit, "--test-limit", in: 0...ToolLimits.images) }
      if let threads { try ToolLimits.check(threads, "--threads", in: 1...ToolLimits.threads) }
      // Never silently ignored: flags the chosen optimizer or schedule does not read.
      if optimizer != .momentum && optimizer != .nesterov && momentum != nil {
        throw ValidationError("--momentum applies to --optimizer momentum and nesterov only")
      }
      if schedule != .step && (stepEpochs != nil || stepFactor != nil) {
        throw ValidationError("--step-epochs and --step-factor apply to --schedule step only")
      }
      if ModelPreset(rawValue: model) == nil && !FileManager.default.fileExists(atPath: model) {
        throw ValidationError(
          "--model '\(model)' is neither a preset (\(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))) nor an existing file"
        )
      }
      if activation != nil && ModelPreset(rawValue: model) == nil {
        throw ValidationError("--activation applies to presets only, not to a model file")
      }
    }

    func run() throws {
      MemoryTuning.keepFreedMemory()
      try prepareOutputs(files: [output], inputs: [model])
      var random = SplitMix64(seed: seed)
      let graph: Graph
      if let preset = ModelPreset(rawValue: model) {
        graph = try preset.build(activation: activation, random: &random)
      } else if model.hasSuffix(".json") {
        graph = try ModelDescription.build(file: model, random: &random)
      } else {
        graph = try ModelFile.read(model)
      }
      let train = try DataSelection(
        source: data, split: .train, limit: limit, preprocessing: preprocessing.value
      ).load()
      let test =
        testLimit == 0
        ? nil
        : try DataSelection(source: data, split: .test, limit: testLimit, preprocessing: preprocessing.value)
          .load()
      let scheduleValue: LearningRateSchedule =
        switch schedule {
        case .constant: .constant
        case .step: .step(epochs: stepEpochs ?? 5, factor: stepFactor ?? 0.1)
        case .cosine: .cosine
        }
      let configuration = TrainingConfiguration(
        epochs: epochs, batchSize: batchSize, learningRate: lr, schedule: scheduleValue,
        optimizer: OptimizerSettings(kind: optimizer, momentum: momentum ?? 0.9, weightDecay: weightDecay),
        loss: loss,
        precision: precision, policy: SubgradientPolicy(reluPrime: reluPrime, maxPoolTie: maxPoolTie),
        seed: seed, threads: threads ?? Communicator.world.defaultThreads)
      say(
        "training \(graph.name) (\(graph.parameterCount) parameters) on \(train.name), \(train.count) images, \(precision.rawValue), ReLU'(0) = \(reluPrime)"
      )
      if let softmax = Trainer.softmaxAppliedByLoss(graph, loss: loss) {
        printFlushed(
          "the loss applies the softmax of '\(softmax.name)': training its input, '\(softmax.inputs[0])'")
      }
      let progress = ProgressLine("epoch")
      let result = try namingModel {
        try Trainer.fit(
          graph, train: train, test: test, configuration: configuration,
          sharding: Communicator.world.gradientSharding,
          onBatch: { done, total, loss in
            progress.update(done, of: total, detail: String(format: "loss %.4f", loss))
          },
          onEpoch: { report in
            progress.finish()
            let testText = report.testAccuracy.map { String(format: "  test %.2f%%", $0 * 100) } ?? ""
            say(
              String(
                format: "epoch %d/%d  loss %.4f  train %.2f%%", report.epoch, epochs, report.loss,
                report.trainAccuracy * 100) + testText + String(format: "  %.1f s", report.seconds))
          })
      }
      // Every rank has the same weights; rank 0 alone writes them.
      guard Communicator.world.isRoot else { return }
      try KerasModelWriter.write(result.graph, to: output, writerVersion: ToolkitVersion.string)
      say("saved \(output)")
      if json { try printJSON(History(model: model, output: output, epochs: result.history)) }
    }

    /// Runs `body`, naming the model in an error about the network's own shape.
    func namingModel<R>(_ body: () throws -> R) throws -> R {
      do { return try body() } catch let error as TrainingError {
        guard case .notAClassifier = error else { throw error }
        throw ModelFileError(description: "\(model): \(error)")
      }
    }
  }
}

/// A model that cannot be trained on the chosen data, named by its file or preset.
struct ModelFileError: Error, CustomStringConvertible {
  let description: String
}
