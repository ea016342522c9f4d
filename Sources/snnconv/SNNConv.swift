import ArgumentParser
import Datasets
import Foundation
import Graph
import ModelIO
import ToolSupport

@main
struct SNNConv: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snnconv",
    abstract: "Convert trained ANNs (Keras HDF5) into spiking neural networks, and export them to NIR.",
    version: ToolkitVersion.string,
    subcommands: [Convert.self, Inspect.self, Evaluate.self])
}

extension SNNConv {
  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List a model's layers, shapes and parameter counts.")

    @Argument(help: ArgumentHelp("A Keras HDF5 model file.", valueName: "model.h5"))
    var model: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
      let summary = GraphSummary(try KerasModelReader.read(model))
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(summary), as: UTF8.self))
      } else {
        print(summary.table)
      }
    }
  }

  struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "eval", abstract: "Run the ANN on a data set and print its top-1 accuracy.")

    @Argument(help: ArgumentHelp("A Keras HDF5 model file.", valueName: "model.h5"))
    var model: String

    @OptionGroup(title: "Data") var data: DataOptions

    @Option(help: ArgumentHelp("Images per inference batch.", valueName: "B"))
    var batchSize = 256

    @Option(
      help: ArgumentHelp("Write the raw network outputs, one CSV row per image.", valueName: "file.csv"))
    var outputs: String?

    func validate() throws {
      guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
    }

    func run() throws {
      let graph = try KerasModelReader.read(model)
      let set = try data.load()
      let progress = ProgressLine("eval")
      let result = try graph.evaluate(
        images: set.images, labels: set.labels, batchSize: batchSize, keepOutputs: outputs != nil,
        progress: { progress.update($0, of: $1) })
      progress.finish()
      if let outputs, let values = result.outputs { try OutputsCSV.write(values, to: outputs) }
      print(
        "\(graph.name) on \(set.name): top-1 accuracy \(String(format: "%.2f", result.accuracy * 100))% (\(result.correct)/\(result.count))"
      )
    }
  }
}
