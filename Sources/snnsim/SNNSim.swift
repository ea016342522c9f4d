import ArgumentParser
import Datasets
import Foundation
import ModelIO
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
    subcommands: [Run.self])
}

extension SNNSim {
  struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Simulate a .snn.h5 network on a data set and measure accuracy and per-layer error at every T.")

    @Argument(help: ArgumentHelp("A spiking network written by snnconv convert.", valueName: "net.snn.h5"))
    var network: String

    @OptionGroup(title: "Data") var data: DataOptions

    @Option(
      help: ArgumentHelp("Time steps at which to measure, strictly increasing.", valueName: "1,2,4,…"),
      transform: { text in
        let values = try text.split(separator: ",").map { part -> Int in
          guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value > 0 else {
            throw ValidationError("--timesteps takes positive integers separated by commas, got '\(part)'")
          }
          return value
        }
        guard !values.isEmpty, zip(values, values.dropFirst()).allSatisfy({ $0 < $1 }) else {
          throw ValidationError("--timesteps must be strictly increasing, got \(text)")
        }
        return values
      })
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

    @Option(help: ArgumentHelp("Write results as JSON (and CSV beside it).", valueName: "run.json"))
    var results: String?

    func validate() throws {
      guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
    }

    func run() throws {
      MemoryTuning.keepFreedMemory()
      let (net, provenance) = try SNNFile.read(network)
      let set = try data.load()
      let progress = ProgressLine("simulate")
      let last = timesteps.last!
      let started = Date()
      let result = try Simulator.run(
        net, images: set.images, labels: set.labels, timesteps: timesteps, batchSize: batchSize,
        engine: engine, input: input,
        progress: { done, total, step in
          progress.update(done, of: total, detail: step > 0 ? "step \(step)/\(last)" : "")
        })
      let seconds = Date().timeIntervalSince(started)
      progress.finish()
      print(
        "\(net.graph.name) on \(set.name), \(result.images) images, \(String(format: "%.1f", seconds)) s; ANN accuracy \(String(format: "%.2f%%", result.annAccuracy * 100))"
      )
      let header = ["T", "accuracy", "Δ ANN (pp)"] + result.populations.map { "\($0.name) MAE" }
      print(header.joined(separator: "\t"))
      for (row, t) in result.timesteps.enumerated() {
        let cells =
          [
            String(t), String(format: "%.2f%%", result.accuracy[row] * 100),
            String(format: "%+.2f", (result.accuracy[row] - result.annAccuracy) * 100),
          ]
          + result.populations.map { String(format: "%.4g", $0.meanAbsError[row]) }
        print(cells.joined(separator: "\t"))
      }
      if let results {
        let settings = RunRecord.Settings(
          network: network, name: net.graph.name, sourceModel: provenance.sourceModel,
          sourceSha256: provenance.sourceSHA256,
          dynamics: Array(Set(net.populations.map(\.dynamics.rawValue))).sorted(),
          schedules: Array(Set(net.populations.map { "\($0.schedule)" })).sorted(),
          normalization: net.normalization.description, granularity: net.granularity.rawValue,
          fused: net.isFused, calibrationImages: net.calibrationImages, engine: engine.rawValue,
          input: input.rawValue, data: set.name, limit: data.limit, batchSize: batchSize)
        try RunRecord(settings: settings, result: result, seconds: seconds).write(json: results)
        print("wrote \(results)")
      }
    }
  }
}
