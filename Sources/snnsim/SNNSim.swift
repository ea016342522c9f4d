import ArgumentParser
import Foundation
import ModelIO
import Pipeline
import Results
import Tensor
import ToolSupport

@main
struct SNNSim: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snnsim",
    abstract:
      "Simulate converted spiking networks step by step and report how well they approximate the ANN.",
    version: ToolkitVersion.string,
    subcommands: [Run.self, Report.self, Compare.self])

  static func main() {
    startTool()
    main(nil)
  }
}

extension SNNSim {
  struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Simulate a .snn.h5 network on a data set and measure accuracy and per-layer error at every T.")

    @Argument(help: ArgumentHelp("A spiking network written by snnconv convert.", valueName: "net.snn.h5"))
    var network: String

    @OptionGroup(title: "Data") var data: DataOptions

    @OptionGroup(title: "Simulation") var simulation: SimulationOptions

    @Option(help: ArgumentHelp("Write results as JSON (and CSV beside it).", valueName: "run.json"))
    var results: String?

    @Option(
      help: ArgumentHelp(
        "Write each image's readout at the largest T, one CSV row per image in data order: the estimate the prediction is taken from, or for membrane neurons (--dynamics if) the readout's input current summed over the steps.",
        valueName: "file.csv"))
    var outputs: String?

    func run() throws {
      MemoryTuning.keepFreedMemory()
      try prepareOutputs(
        files: (results.map { [$0, RunRecord.csvPath(besides: $0)] } ?? []) + (outputs.map { [$0] } ?? []),
        inputs: [self.network])
      let network = try SourcedNetwork(path: self.network)
      let images = try data.selection.load()
      let progress = ProgressLine("simulate")
      let (record, readout) = try network.simulate(
        on: images, limit: data.limit, settings: simulation.settings, keepReadout: outputs != nil,
        progress: progress.simulation(steps: simulation.timesteps.last!))
      progress.finish()
      printTable(record)
      if let results {
        try record.write(json: results)
        print("wrote \(results)")
      }
      if let outputs, let readout {
        try OutputsCSV.write(readout, to: outputs)
        print("wrote \(outputs)")
      }
    }
  }
}

/// Prints a run as a table: accuracy and each population's mean absolute error per T.
func printTable(_ record: RunRecord) {
  print(
    "\(record.settings.name) on \(record.settings.data), \(record.images) images, \(String(format: "%.1f", record.seconds)) s; ANN accuracy \(String(format: "%.2f%%", record.annAccuracy * 100))"
  )
  let header = ["T", "accuracy", "Δ ANN (pp)"] + record.populations.map { "\($0.name) MAE" }
  print(header.joined(separator: "\t"))
  for (row, t) in record.timesteps.enumerated() {
    let cells =
      [
        String(t), String(format: "%.2f%%", record.accuracy[row] * 100),
        String(format: "%+.2f", (record.accuracy[row] - record.annAccuracy) * 100),
      ]
      + record.populations.map { String(format: "%.4g", $0.meanAbsError[row]) }
    print(cells.joined(separator: "\t"))
  }
}
