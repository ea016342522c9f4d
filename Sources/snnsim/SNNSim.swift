import ArgumentParser
import Distributed
import Foundation
import ModelIO
import Pipeline
import Results
import Spiking
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
    runInJob()
  }
}

extension SNNSim {
  struct Run: ParsableCommand, WorkSharing {
    static let configuration = CommandConfiguration(
      abstract:
        "Simulate a .snn.h5 network on a data set and measure accuracy and per-layer error at every T.")

    @Argument(
      help: ArgumentHelp(
        "A spiking network written by snnconv convert, or a NIR graph (.nir) written by snnconv export or another framework.",
        valueName: "net.snn.h5|graph.nir"))
    var network: String

    @OptionGroup(title: "Data") var data: DataOptions

    @OptionGroup(title: "Simulation") var simulation: SimulationOptions

    @Option(
      help: ArgumentHelp(
        "Write results as JSON and CSV: run.json gets the JSON and run.csv beside it; a name ending in .csv gets the CSV and the JSON beside it (default: not written).",
        valueName: "run.json"))
    var results: String?

    @Option(
      help: ArgumentHelp(
        "Write each image's readout at the largest T, one CSV row per image in data order: the estimate the prediction is taken from, or for membrane neurons (--dynamics if) the readout's input current summed over the steps (default: not written).",
        valueName: "file.csv"))
    var outputs: String?

    @Flag(help: "Print the run record as JSON (the --results form) instead of a table.")
    var json = false

    @Option(
      help: ArgumentHelp(
        "For a NIR graph: the step, in the unit of the graph's time constants (default: the graph's metadata dt, else 1). snnTorch and SpikingJelly write their graphs for 1e-4, Norse for 1e-3; snnconv inspect says what a graph's parameters suggest.",
        valueName: "seconds"))
    var dt: Double?

    func report(_ line: String) { printMessage(line, aside: json) }

    func validate() throws {
      if let dt, !(dt.isFinite && dt > 0) {
        throw ValidationError("--dt must be a positive number, got \(dt)")
      }
    }

    func run() throws {
      MemoryTuning.keepFreedMemory()
      try prepareOutputs(
        files: (results.map { [RunRecord.paths(forResults: $0).json, RunRecord.paths(forResults: $0).csv] }
          ?? [])
          + (outputs.map { [$0] } ?? []),
        inputs: [self.network])
      if NIRSummary.isNIRFile(self.network) { return try runNIR() }
      if dt != nil {
        throw ValidationError("--dt applies to NIR graphs; a .snn.h5 network steps as it was converted")
      }
      let network = try SourcedNetwork(path: self.network)
      let images = try data.load()
      try simulation.checkRaster(images: images.labels.count)
      let progress = ProgressLine("simulate")
      let world = Communicator.world
      let (record, readout) = try network.simulate(
        on: images, limit: data.limit, settings: simulation.settings, keepReadout: outputs != nil,
        sharding: world.sharding, progress: progress.simulation(steps: simulation.timesteps.last!))
      progress.finish()
      // Every rank has the whole result; rank 0 alone prints and writes it.
      guard world.isRoot else { return }
      if json { print(String(decoding: try record.encoded(), as: UTF8.self)) } else { printTable(record) }
      if let results {
        try record.write(json: results)
        report(
          "wrote \(RunRecord.paths(forResults: results).json) and \(RunRecord.paths(forResults: results).csv)"
        )
      }
      if let outputs, let readout {
        try OutputsCSV.write(readout, to: outputs)
        report("wrote \(outputs)")
      }
    }
  }
}

extension SNNSim.Run {
  /// Simulates a NIR graph (docs/nir.md, "Running NIR graphs"): accuracy and spikes per T.
  func runNIR() throws {
    guard simulation.engine == .dense, simulation.input == .analog else {
      throw ValidationError(
        "--engine event and --input rate|signgd apply to .snn.h5 networks; a NIR graph runs its own nodes as written, with the image as input current"
      )
    }
    let graph = try NIRReader.read(network, dt: dt)
    let version = try NIRReader.contents(of: network).version
    for warning in graph.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
    let images = try data.load()
    try images.checkLabels(fit: graph.readoutWidth, network: network)
    let values: [Float]
    do { values = try graph.adapt(images: images.images) } catch let error as NIRGraphError {
      throw ModelIOError.nir(file: network, detail: "\(error)")
    }
    let progress = ProgressLine("simulate")
    let started = Date()
    let world = Communicator.world
    let result = try Simulator.run(
      graph, images: values, labels: images.labels, timesteps: simulation.timesteps,
      batchSize: simulation.batchSize, threads: simulation.threads ?? world.defaultThreads,
      keepReadout: outputs != nil, sharding: world.sharding,
      progress: progress.simulation(steps: simulation.timesteps.last!))
    progress.finish()
    // Every rank has the whole result; rank 0 alone prints and writes it.
    guard world.isRoot else { return }
    let record = NIRRunRecord(
      settings: NIRRunRecord.Settings(
        network: network, nirVersion: version, data: images.name, limit: data.limit,
        batchSize: simulation.batchSize, dt: graph.dt),
      result: result, seconds: Date().timeIntervalSince(started))
    if json {
      print(String(decoding: try record.encoded(), as: UTF8.self))
    } else {
      print(
        "\(network) (NIR \(version), dt \(String(format: "%g", graph.dt))) on \(images.name), \(record.images) images, \(String(format: "%.1f", record.seconds)) s"
      )
      print(
        (["T", "accuracy"] + record.populations.map { "\($0.name) spikes/neuron/step" }).joined(
          separator: "\t")
      )
      for (row, t) in record.timesteps.enumerated() {
        print(
          ([String(t), String(format: "%.2f%%", record.accuracy[row] * 100)]
            + record.populations.map { String(format: "%.4g", $0.spikesPerNeuronPerStep[row]) })
            .joined(separator: "\t"))
      }
    }
    if let results {
      try record.write(json: results)
      report(
        "wrote \(RunRecord.paths(forResults: results).json) and \(RunRecord.paths(forResults: results).csv)")
    }
    if let outputs, let readout = result.readout {
      try OutputsCSV.write(Tensor(shape: [result.images, graph.readoutWidth], scalars: readout), to: outputs)
      report("wrote \(outputs)")
    }
  }
}

/// Prints a run as a table: accuracy, spikes and synaptic operations per image, and each
/// population's mean absolute error per T.
func printTable(_ record: RunRecord) {
  print(
    "\(record.settings.name) on \(record.settings.data), \(record.images) images, \(String(format: "%.1f", record.seconds)) s; ANN accuracy \(String(format: "%.2f%%", record.annAccuracy * 100))"
  )
  if let cost = record.stepCost?.summary { print(cost) }
  // A decomposed layer's many populations show as one column: the layer's output.
  let entries = PopulationGroups.entries(record.populations.map(\.name))
  let header =
    ["T", "accuracy", "Δ ANN (pp)", "agrees with ANN", "spikes/image", "synaptic ops/image"]
    + entries.map { "\($0.label) MAE" }
  print(header.joined(separator: "\t"))
  for (row, t) in record.timesteps.enumerated() {
    // Every population's spikes over the T steps, and the synaptic operations they cause.
    let spikes = record.populations.reduce(0.0) {
      $0 + $1.spikesPerNeuronPerStep[row] * Double($1.neurons * t)
    }
    let operations = record.populations.reduce(0.0) { $0 + $1.synapticOperations[row] }
    let cells =
      [
        String(t), String(format: "%.2f%%", record.accuracy[row] * 100),
        String(format: "%+.2f", (record.accuracy[row] - record.annAccuracy) * 100),
        record.agreement.map { String(format: "%.2f%%", $0[row] * 100) } ?? "",
        String(format: "%.3g", spikes), String(format: "%.3g", operations),
      ]
      + entries.map { String(format: "%.4g", record.populations[$0.representative].meanAbsError[row]) }
    print(cells.joined(separator: "\t"))
  }
}
