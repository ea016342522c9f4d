import ArgumentParser
import Datasets
import Foundation
import Graph
import ModelIO
import Reports
import Spiking
import Tensor
import ToolSupport

extension Engine: ExpressibleByArgument {}
extension InputEncoding: ExpressibleByArgument {}

@main
struct SNNSim: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snnsim",
    abstract:
      "Simulate converted spiking networks step by step and report how well they approximate the ANN.",
    version: ToolkitVersion.string,
    subcommands: [Run.self, Report.self, Compare.self])
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

    func run() throws {
      MemoryTuning.keepFreedMemory()
      let (net, provenance) = try SNNFile.read(network)
      let set = try data.load()
      let record = try simulation.simulate(
        net, provenance: provenance, networkPath: network, set: set, limit: data.limit, label: "simulate")
      printTable(record)
      if let results {
        try record.write(json: results)
        print("wrote \(results)")
      }
    }
  }
}

/// Options every simulating command shares.
struct SimulationOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp("Time steps at which to measure, strictly increasing.", valueName: "1,2,4,…"),
    transform: parseTimesteps)
  var timesteps: [Int] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

  @Option(help: "Images simulated together.") var batchSize = 100

  @Option(
    help: "dense: recompute each affine map every step; event: accumulate the maps of per-step changes.")
  var engine: Engine = .dense

  @Option(
    help:
      "analog: the image at every step; rate: integrate-and-fire neurons encode each pixel; signgd: signGD neurons do."
  )
  var input: InputEncoding = .analog

  func validate() throws {
    guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
  }

  /// Simulates `network` on `set` with a progress line, and packs the result with its settings.
  func simulate(
    _ network: SpikingNetwork, provenance: SNNFile.Provenance, networkPath: String, set: LabeledImages,
    limit: Int?, label: String
  ) throws -> RunRecord {
    let progress = ProgressLine(label)
    let last = timesteps.last!
    let started = Date()
    let result = try Simulator.run(
      network, images: set.images, labels: set.labels, timesteps: timesteps, batchSize: batchSize,
      engine: engine, input: input,
      progress: { done, total, step in
        progress.update(done, of: total, detail: step > 0 ? "step \(step)/\(last)" : "")
      })
    let seconds = Date().timeIntervalSince(started)
    progress.finish()
    let settings = RunRecord.Settings(
      network: networkPath, name: network.graph.name, sourceModel: provenance.sourceModel,
      sourceSha256: provenance.sourceSHA256,
      dynamics: Array(Set(network.populations.map(\.dynamics.rawValue))).sorted(),
      schedules: Array(Set(network.populations.map { "\($0.schedule)" })).sorted(),
      normalization: network.normalization.description, granularity: network.granularity.rawValue,
      fused: network.isFused, calibrationImages: network.calibrationImages, engine: engine.rawValue,
      input: input.rawValue, data: set.name, limit: limit, batchSize: batchSize)
    return RunRecord(settings: settings, result: result, seconds: seconds)
  }
}

/// Parses `--timesteps 1,2,4`: positive and strictly increasing.
func parseTimesteps(_ text: String) throws -> [Int] {
  let values = try text.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
    guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value > 0 else {
      throw ValidationError("--timesteps takes positive integers separated by commas, got '\(part)'")
    }
    return value
  }
  guard !values.isEmpty, zip(values, values.dropFirst()).allSatisfy({ $0 < $1 }) else {
    throw ValidationError("--timesteps must be strictly increasing, got \(text)")
  }
  return values
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
