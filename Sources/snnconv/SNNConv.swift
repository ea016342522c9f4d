import ArgumentParser
import Foundation
import Graph
import ModelIO
import Pipeline
import Spiking
import ToolSupport

@main
struct SNNConv: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snnconv",
    abstract: "Convert trained ANNs (Keras HDF5) into spiking neural networks, and export them to NIR.",
    version: ToolkitVersion.string,
    subcommands: [Convert.self, Inspect.self, Evaluate.self, Export.self])

  static func main() {
    startTool()
    runInJob()
  }
}

extension SNNConv {
  struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "List a model's layers, shapes and parameter counts, a spiking network's populations, or a NIR graph's nodes."
    )

    @Argument(
      help: ArgumentHelp(
        "A Keras HDF5 or ONNX model, a .snn.h5 spiking network or a NIR graph.", valueName: "file"))
    var model: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
      if NIRSummary.isNIRFile(model) {
        let summary = try NIRSummary(path: model)
        return json ? try printJSON(summary) : print(summary.table)
      }
      if SNNFile.isSNNFile(model) {
        let (network, provenance) = try SNNFile.read(model)
        let rows = network.populations.map { spec in
          PopulationRow(
            name: spec.node, op: network.graph.node(spec.node)?.op.kind ?? "",
            dynamics: spec.dynamics.rawValue,
            schedule: spec.schedule.description,
            neurons: network.graph.node(spec.node)?.shape.reduce(1, *) ?? 0,
            scale: spec.scale, scales: spec.scales.count, target: spec.target.name,
            initial: spec.initial.reduce(0, +) / Double(spec.initial.count), initials: spec.initial.count,
            neuron: spec.parameters.isEmpty ? nil : spec.parameters,
            offset: spec.offsets.isEmpty
              ? 0 : spec.offsets.reduce(0) { $0 + abs($1) } / Double(spec.offsets.count),
            offsets: spec.offsets.count, how: Self.how(spec))
        }
        if json { return try printJSON(rows) }
        print(
          "\(network.graph.name): spiking network from \(provenance.sourceModel) (sha256 \(provenance.sourceSHA256.prefix(12))…), normalization \(network.normalization) per \(network.granularity.rawValue), \(network.isFused ? "fused" : "decomposed") composites, readout \(network.readout)\(network.targetTimesteps.map { ", tuned for T = \($0)" } ?? "")"
        )
        for row in rows {
          let start =
            row.initials > 1
            ? "  v₀ mean \(String(format: "%.4g", row.initial)) (\(row.initials) values)"
            : row.initial != 0 ? "  v₀ = \(String(format: "%.4g", row.initial))" : ""
          let shift =
            row.offsets > 0
            ? "  input offsets mean |b| \(String(format: "%.4g", row.offset)) (\(row.offsets) values)" : ""
          print(
            "  \(row.name)  \(row.op)  \(row.target)  \(row.dynamics) \(row.how)  \(row.neurons) neurons  λ \(row.scales > 1 ? "≤ " : "= ")\(String(format: "%.4g", row.scale))\(row.scales > 1 ? " (\(row.scales) scales)" : "")\(start)\(shift)"
          )
        }
        print("\(rows.count) populations, \(rows.map(\.neurons).reduce(0, +)) neurons")
        return
      }
      let summary = GraphSummary(try ModelFile.read(model))
      if json { try printJSON(summary) } else { print(summary.table) }
    }

    /// The schedule, or a membrane's settings (which have no schedule), and any other settings.
    static func how(_ spec: PopulationSpec) -> String {
      var parts = [String]()
      if spec.dynamics.model.defaultSchedule != nil { parts.append(spec.schedule.description) }
      if !spec.parameters.isEmpty { parts.append(spec.parameters.spelled) }
      return parts.joined(separator: ", ")
    }

    struct PopulationRow: Codable {
      let name: String
      let op: String
      let dynamics: String
      let schedule: String
      let neurons: Int
      /// The largest λ, and how many there are.
      let scale: Double
      let scales: Int
      /// What each neuron approximates (`relu`, `max`, `normalize` …; `identity` when fused).
      let target: String
      /// The mean initial estimate `v_0` (in units of λ), and how many values there are.
      let initial: Double
      let initials: Int
      /// The model's own settings (a membrane's reset and leak …); absent for models without any.
      let neuron: NeuronParameters?
      /// The mean magnitude of the input offsets tuning added, and how many there are (0: none).
      let offset: Double
      let offsets: Int
      /// How the neurons run, for people: the schedule, or a membrane's settings (which have no
      /// schedule), e.g. `reset subtract`.
      let how: String
    }
  }

  struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a spiking network of membrane neurons (--dynamics if) as a NIR graph.",
      discussion: """
        NIR (Neuromorphic Intermediate Representation) is the exchange format of Lava, SpiNNaker2, Speck, \
        snnTorch, Norse, Sinabs and SpikingJelly. Arrays are written channel-first, as NIR expects. By \
        default the graph is written in the portable form other frameworks import: each population's \
        threshold is folded into the weights around it, so its IF (or LIF) node has r = 1 and a \
        v_threshold just above 1 (read alike by v > θ and v ≥ θ readers), with no Scale nodes, and the \
        graph states dt = 1. --exact writes each population \
        as an IF node with r = 1/λ per neuron followed by a Scale of λ, the toolkit's own arithmetic float \
        for float, which only this toolkit reads. NIR has no reset by subtraction: such populations are \
        written with metadata reset_mode = "subtract", which other frameworks ignore, and a warning \
        (docs/nir.md).
        """)

    @Argument(
      help: ArgumentHelp(
        "A spiking network written by snnconv convert --dynamics if.", valueName: "net.snn.h5"))
    var network: String

    @Option(name: [.short, .long], help: ArgumentHelp("Where to write the NIR graph.", valueName: "net.nir"))
    var output: String

    @Flag(
      help:
        "Write the exact form (r = 1/λ per neuron and a Scale node of λ after each population) instead of the portable one; other frameworks do not import it."
    )
    var exact = false

    func run() throws {
      try prepareOutputs(files: [output], inputs: [network])
      let (network, _) = try SNNFile.read(self.network)
      let form: NIRExport.Form = exact ? .exact : .portable
      let warnings = try NIRExport.write(network, to: output, form: form)
      for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
      print(
        "wrote \(output): NIR \(NIRExport.version), \(form.rawValue) form, \(network.populations.count) populations"
      )
    }
  }

  struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "eval", abstract: "Run the ANN on a data set and print its top-1 accuracy.")

    @Argument(help: ArgumentHelp("A Keras HDF5 (.h5) or ONNX (.onnx) model file.", valueName: "model"))
    var model: String

    @OptionGroup(title: "Data") var data: DataOptions

    @Option(help: ArgumentHelp("Images per inference batch.", valueName: "B"))
    var batchSize = 256

    @Option(
      help: ArgumentHelp(
        "Write the raw network outputs, one CSV row per image (default: not written).", valueName: "file.csv")
    )
    var outputs: String?

    @Flag(help: "Print the result as JSON instead of a line.")
    var json = false

    func validate() throws {
      guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
    }

    /// What --json prints.
    struct Score: Codable {
      let model: String
      let name: String
      let data: String
      let correct: Int
      let count: Int
      let accuracy: Double
    }

    func run() throws {
      try prepareOutputs(files: outputs.map { [$0] } ?? [], inputs: [model])
      let graph = try ModelFile.read(model)
      let set = try data.load()
      try set.check(fits: graph)
      let progress = ProgressLine("eval")
      let result = try graph.evaluate(
        images: set.images, labels: set.labels, batchSize: batchSize, keepOutputs: outputs != nil,
        progress: { progress.update($0, of: $1) })
      progress.finish()
      if let outputs, let values = result.outputs { try OutputsCSV.write(values, to: outputs) }
      if json {
        return try printJSON(
          Score(
            model: model, name: graph.name, data: set.name, correct: result.correct, count: result.count,
            accuracy: result.accuracy))
      }
      print(
        "\(graph.name) on \(set.name): top-1 accuracy \(String(format: "%.2f", result.accuracy * 100))% (\(result.correct)/\(result.count))"
      )
    }
  }
}
