import ArgumentParser
import Datasets
import Pipeline
import ToolSupport

@main
struct SNNTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snntrain",
    abstract: "Train artificial neural networks with explicit subgradients, for conversion to SNNs.",
    version: ToolkitVersion.string,
    subcommands: [Fit.self, Bifurcation.self, DataSummary.self])

  static func main() {
    startTool()
    runInJob()
  }
}

extension SNNTrain {
  /// Prints what a data source holds, as the trainer will see it.
  struct DataSummary: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "data", abstract: "Summarize a data set: image count, shape, pixel range and classes.")

    @OptionGroup(title: "Data") var source: DataOptions

    func run() throws {
      let set = try source.load()
      let pixels = set.images.scalars
      print(
        "\(set.name): \(set.count) images of \(set.images.shape.dropFirst().map(String.init).joined(separator: "×"))"
      )
      print(
        "pixel range \(pixels.min() ?? 0)…\(pixels.max() ?? 0), mean \(pixels.reduce(0, +) / Float(max(pixels.count, 1)))"
      )
      for (label, count) in set.classCounts.enumerated() {
        print(
          "  \(label)  \(set.classNames[label].padding(toLength: 12, withPad: " ", startingAt: 0))  \(count)")
      }
    }
  }
}
