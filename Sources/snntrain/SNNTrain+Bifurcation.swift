import ArgumentParser
import AtomicFile
import Datasets
import Foundation
import Tensor
import ToolSupport
import Training

extension SNNTrain {
  struct Bifurcation: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Measure how often ReLU'(0) = 0 and ReLU'(0) = 1 lead training apart (Bertoin et al., 2021).",
      discussion: """
        For each of --runs random initializations, two copies of --model train on the same mini-batches \
        with ReLU'(0) = 0 and = 1. A run bifurcates when their first-layer gradients differ within --batches \
        batches. After --epochs epochs the L1 distance of their weights and their test accuracies are reported.
        """)

    @Option(help: "The preset network.") var model: ModelPreset = .mlp
    @Option(
      help: ArgumentHelp(
        "Precisions to study, comma-separated (default: float16,float32,float64).",
        valueName: "float16,float32,float64"),
      transform: { try parseList($0, option: "--precision") })
    var precision: [Precision] = [.float16, .float32, .float64]
    @Option(help: "Random initializations per precision.") var runs = 10
    @Option(help: "Batches within which a gradient difference counts.") var batches = 600
    @Option(help: "Epochs both copies train before weights are compared.") var epochs = 1
    @Option var batchSize = 100
    @Option(help: "Learning rate (plain SGD unless --optimizer says otherwise).") var lr = 0.1
    @Option var optimizer: OptimizerKind = .sgd
    @Option(help: "Train on the first N training images only (default: all).") var limit: Int?
    @Option var seed: UInt64 = 0
    @Option(
      help: ArgumentHelp("Also write the results as JSON (default: not written).", valueName: "file.json"))
    var json: String?

    func validate() throws {
      try ToolLimits.check(runs, "--runs", in: 1...1_000_000)
      try ToolLimits.check(batches, "--batches", in: 1...ToolLimits.images)
      try ToolLimits.check(batchSize, "--batch-size", in: 1...ToolLimits.images)
      try ToolLimits.check(epochs, "--epochs", in: 0...ToolLimits.epochs)
      try ToolLimits.check(lr, "--lr", in: 0...1e6, openBelow: true)
      if let limit { try ToolLimits.check(limit, "--limit", in: 1...ToolLimits.images) }
    }

    func run() throws {
      MemoryTuning.keepFreedMemory()
      try prepareOutputs(files: json.map { [$0] } ?? [])
      let train = try DataSource.fashionMNIST.load(.train, limit: limit)
      let test = try DataSource.fashionMNIST.load(.test)
      var results = [BifurcationStudy.Result]()
      for precision in precision {
        let settings = BifurcationStudy.Settings(
          preset: model, precision: precision, runs: runs, batches: batches, epochs: epochs,
          batchSize: batchSize,
          learningRate: lr, optimizer: optimizer, seed: seed)
        let progress = ProgressLine(precision.rawValue)
        let result = try BifurcationStudy.run(settings, train: train, test: test) {
          progress.update($0, of: $1)
        }
        progress.finish()
        results.append(result)
        printFlushed(Self.row(result))
      }
      print()
      print(Self.table(results))
      if let json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(results)
        try AtomicFile.write(data, to: json)
      }
    }

    static func row(_ result: BifurcationStudy.Result) -> String {
      let s = result.settings
      let zeros =
        Double(result.runs.map(\.zeroPreActivations).reduce(0, +)) / Double(max(result.runs.count, 1))
      let accuracy = { (copy: Int) in
        result.runs.map { $0.testAccuracy[copy] }.reduce(0, +) / Double(max(result.runs.count, 1)) * 100
      }
      return
        "| \(s.precision.rawValue) | \(result.runs.count) | \(String(format: "%.0f%%", result.bifurcationRatio * 100)) | "
        + "\(result.medianFirstDifference.map(String.init) ?? "–") | \(String(format: "%.1f", zeros)) | "
        + "\(String(format: "%.4g", result.meanWeightDistance)) | \(String(format: "%.2f / %.2f", accuracy(0), accuracy(1))) |"
    }

    static func table(_ results: [BifurcationStudy.Result]) -> String {
      let header =
        "| precision | runs | bifurcated | median first batch | zeros met (mean) | mean L1 distance | test acc. % (s=0 / s=1) |\n"
        + "|---|---:|---:|---:|---:|---:|---:|"
      return ([header] + results.map(row)).joined(separator: "\n")
    }
  }
}
