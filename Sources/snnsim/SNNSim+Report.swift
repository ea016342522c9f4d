import ArgumentParser
import Conversion
import Distributed
import Foundation
import Pipeline
import Reports
import Results
import Spiking
import Tensor
import ToolSupport

extension SNNSim {
  struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Turn runs written by 'snnsim run --results' into a comparison report.",
      discussion: """
        Writes DIR/index.html (self-contained, plots as inline SVG), DIR/summary.md, the plots as SVG files \
        and CSV tables: accuracy against T, approximation error per op against T, the T needed to come within \
        1 and 0.1 pp of the ANN, spikes and synaptic operations, and every run's settings.
        """)

    @Argument(help: ArgumentHelp("Run files written by snnsim run --results.", valueName: "run.json"))
    var runs: [String] = []

    @Option(
      name: [.short, .long], help: ArgumentHelp("Directory to write the report into.", valueName: "dir"))
    var output: String

    func validate() throws {
      guard !runs.isEmpty else { throw ValidationError("give at least one run file (RUN.json)") }
    }

    func run() throws {
      try prepareOutputs(directories: [output])
      let records = try runs.map { path -> RunRecord in
        guard FileManager.default.fileExists(atPath: path) else {
          throw ValidationError("\(path): no such run file")
        }
        do { return try RunRecord.read(json: path) } catch RunRecordError.layout(let layout) {
          throw ValidationError(
            "\(path): \(layout); simulate its network again with 'snnsim run NETWORK --results \(path)' to get it in this version's layout"
          )
        } catch let error as RunRecordError {
          throw ValidationError("\(path): not a run 'snnsim run --results' could write: \(error)")
        } catch {
          throw ValidationError("\(path): not a run written by 'snnsim run --results' (\(describe(error)))")
        }
      }
      try Reports.Report(runs: records).write(to: output)
      print("wrote \(output)/index.html and summary.md (\(records.count) runs)")
    }
  }

  struct Compare: ParsableCommand, WorkSharing {
    static let configuration = CommandConfiguration(
      abstract:
        "Convert a model with every combination of dynamics and normalization, simulate each, and report.",
      discussion: """
        The ablation of Oh & Lee (dynamics × normalization) in one command, each combination also tuned for \
        every T of --target-timesteps and with every value of each --sweep option. Each network is kept as \
        DIR/networks/<name>.snn.h5, each run written to DIR/runs/<name>.json \
        (<name> = <dynamics>-<normalization>[-t<T>][-<option>-<value>…]) and the report to DIR (see 'snnsim report').
        """)

    @Argument(help: ArgumentHelp("A Keras HDF5 (.h5) or ONNX (.onnx) model file.", valueName: "model"))
    var model: String

    @Option(
      help: ArgumentHelp(
        "Dynamics to compare (\(Dynamics.allCases.map(\.rawValue).joined(separator: ", ")); default: signgd,subgradient).",
        valueName: "signgd,subgradient"),
      transform: { try parseList($0, option: "--dynamics") })
    var dynamics: [Dynamics] = [.signGD, .subgradient]

    @Option(
      help: ArgumentHelp("Normalizations to compare (default: none,max).", valueName: "none,max,pNN.N"),
      transform: {
        try parseList($0, option: "--normalize", expected: "none, max or pNN.N", Normalization.init)
      })
    var normalize: [Normalization] = [.none, .max]

    @Option(
      help: ArgumentHelp(
        "Also run each combination tuned for these numbers of time steps (see snnconv convert --target-timesteps; default: none).",
        valueName: "8,16"),
      transform: {
        try parseList($0, option: "--target-timesteps", expected: "integers in 1…\(ToolLimits.timesteps / 2)")
        {
          part -> Int? in
          guard let value = Int(part), (1...(ToolLimits.timesteps / 2)).contains(value) else { return nil }
          return value
        }
      })
    var targetTimesteps: [Int] = []

    @Option(
      help: ArgumentHelp(
        "Also compare the values of another option, with every combination; repeatable. OPTION is one of \(SweepOption.allCases.map { "\($0.rawValue) (\($0.expected))" }.joined(separator: ", ")) (default: none).",
        valueName: "OPTION=V1,V2"),
      transform: SweepOption.parse)
    var sweep: [Ablation.Sweep] = []

    @OptionGroup(title: "Conversion") var conversion: ConversionOptions
    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Simulation") var simulation: SimulationOptions

    func validate() throws {
      try conversion.validateTuning(tuned: !targetTimesteps.isEmpty)
      try conversion.validateMembrane(dynamics: dynamics)
      try SweepOption.check(sweep, dynamics: dynamics)
    }

    @Option(
      name: [.short, .long], help: ArgumentHelp("Directory to write runs and report into.", valueName: "dir"))
    var output: String

    @Flag(
      help:
        "Print a JSON summary (each run's files, accuracy per T and T to come within 1 and 0.1 pp of the ANN) instead of the progress lines."
    )
    var json = false

    /// What `--json` prints.
    struct Summary: Encodable {
      struct Run: Encodable {
        let name: String
        let label: String
        let network: String
        let results: String
        let annAccuracy: Double
        let timesteps: [Int]
        let accuracy: [Double]
        let tWithin1pp: Int?
        let tWithin01pp: Int?

        enum CodingKeys: String, CodingKey {
          case name, label, network, results, annAccuracy, timesteps, accuracy
          // Spelt out: the snake_case conversion would not separate the digits.
          case tWithin1pp = "t_within_1pp"
          case tWithin01pp = "t_within_0_1pp"
        }

        func encode(to encoder: Encoder) throws {
          var container = encoder.container(keyedBy: CodingKeys.self)
          try container.encode(name, forKey: .name)
          try container.encode(label, forKey: .label)
          try container.encode(network, forKey: .network)
          try container.encode(results, forKey: .results)
          try container.encode(annAccuracy, forKey: .annAccuracy)
          try container.encode(timesteps, forKey: .timesteps)
          try container.encode(accuracy, forKey: .accuracy)
          // Null when never reached, rather than absent.
          try container.encode(tWithin1pp, forKey: .tWithin1pp)
          try container.encode(tWithin01pp, forKey: .tWithin01pp)
        }
      }
      let report: String
      let runs: [Run]
    }

    func run() throws {
      MemoryTuning.keepFreedMemory()
      try prepareOutputs(directories: [output])
      var ablation = Ablation(
        model: try TrainedModel(path: model), dynamics: dynamics, normalizations: normalize,
        targetTimesteps: targetTimesteps, sweeps: sweep,
        base: try conversion.settings(dynamics: .signGD, normalization: .max),
        simulation: simulation.settings,
        calibrationData: data.selection.source)
      ablation.preprocessing = data.preprocessing.value
      let images = try data.load()
      try simulation.checkRaster(images: images.labels.count)
      // Made when the first run is written: a failure before then leaves nothing behind.
      let runsDirectory = (output as NSString).appendingPathComponent("runs")
      let networksDirectory = (output as NSString).appendingPathComponent("networks")
      let total = ablation.combinations.count
      let lines = ablation.combinations.enumerated().map { index, combination in
        ProgressLine("[\(index + 1)/\(total)] \(combination.name)")
      }
      let steps = simulation.timesteps.last!
      let world = Communicator.world
      let records = try ablation.run(
        on: images, limit: data.limit, sharding: world.sharding,
        calibrationSharding: world.calibrationSharding,
        progress: { index, done, count, step in lines[index].simulation(steps: steps)(done, count, step) },
        warned: { index, warnings in
          printWarnings(warnings, for: "[\(index + 1)/\(total)] \(ablation.combinations[index].name)")
        },
        converted: { index, network in
          guard world.isRoot else { return }
          // Kept, so that any run can be simulated again or exported.
          try FileManager.default.createDirectory(
            atPath: networksDirectory, withIntermediateDirectories: true)
          try network.write(
            to: (networksDirectory as NSString).appendingPathComponent(
              "\(ablation.combinations[index].name).snn.h5"))
        },
        finished: { index, record in
          guard world.isRoot else { return }
          lines[index].finish()
          let name = ablation.combinations[index].name
          try FileManager.default.createDirectory(atPath: runsDirectory, withIntermediateDirectories: true)
          try record.write(json: (runsDirectory as NSString).appendingPathComponent("\(name).json"))
          let reached = record.timesteps(toWithin: 0.01).map { "T = \($0)" } ?? "not reached"
          printMessage(
            "[\(index + 1)/\(total)] \(name): accuracy \(String(format: "%.2f%%", record.accuracy.last! * 100)) at T = \(record.timesteps.last!) (ANN \(String(format: "%.2f%%", record.annAccuracy * 100))); within 1 pp from \(reached)",
            aside: json)
        })
      // Every rank has every record; rank 0 alone writes the report.
      guard world.isRoot else { return }
      let report = Reports.Report(runs: records)
      try report.write(to: output)
      printMessage("wrote \(output)/index.html and summary.md (\(records.count) runs)", aside: json)
      guard json else { return }
      try printJSON(
        Summary(
          report: (output as NSString).appendingPathComponent("index.html"),
          runs: zip(ablation.combinations, zip(report.labels, records)).map { combination, item in
            let (label, record) = item
            return Summary.Run(
              name: combination.name, label: label,
              network: (networksDirectory as NSString).appendingPathComponent("\(combination.name).snn.h5"),
              results: (runsDirectory as NSString).appendingPathComponent("\(combination.name).json"),
              annAccuracy: record.annAccuracy, timesteps: record.timesteps, accuracy: record.accuracy,
              tWithin1pp: record.timesteps(toWithin: 0.01), tWithin01pp: record.timesteps(toWithin: 0.001))
          }))
    }
  }
}

/// An error's description: decoding errors say which key or value is wrong.
func describe(_ error: Error) -> String {
  switch error {
  case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
  case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
    DecodingError.dataCorrupted(let context):
    let path = context.codingPath.map(\.stringValue).joined(separator: ".")
    return path.isEmpty ? context.debugDescription : "at '\(path)': \(context.debugDescription)"
  default: return "\(error)"
  }
}
