import AtomicFile
import Foundation
import Results
import Spiking

/// A comparison of simulation runs (dynamics × normalization × time steps …) as plots and
/// tables: `index.html` (self-contained, inline SVG), `summary.md`, the SVG files, and CSV tables.
public struct Report: Sendable {
  public let runs: [RunRecord]
  /// One short label per run, made of the settings that differ between the runs.
  public let labels: [String]

  /// - Precondition: at least one run.
  public init(runs: [RunRecord]) {
    precondition(!runs.isEmpty, "a report needs at least one run")
    self.runs = runs
    labels = Self.labels(for: runs)
  }

  // MARK: Measures

  /// Spikes per neuron per step over all populations (weighted by neurons), and synaptic
  /// operations per image, at each measured T.
  public static func activity(_ run: RunRecord) -> (
    spikesPerNeuronPerStep: [Double], synapticOperations: [Double]
  ) {
    let neurons = Double(run.populations.reduce(0) { $0 + $1.neurons })
    let spikes = run.timesteps.indices.map { row in
      run.populations.reduce(0.0) { $0 + $1.spikesPerNeuronPerStep[row] * Double($1.neurons) }
        / max(neurons, 1)
    }
    let operations = run.timesteps.indices.map { row in
      run.populations.reduce(0.0) { $0 + $1.synapticOperations[row] }
    }
    return (spikes, operations)
  }

  /// The ops of the runs' populations, in order of first appearance.
  public var ops: [String] {
    var seen = [String]()
    for run in runs {
      for population in run.populations where !seen.contains(population.op) { seen.append(population.op) }
    }
    return seen
  }

  /// A run's mean absolute error over its populations of `op` (weighted by neurons) at each T;
  /// nil if it has none.
  public static func meanAbsError(_ run: RunRecord, op: String) -> [Double]? {
    let matching = run.populations.filter { $0.op == op }
    guard !matching.isEmpty else { return nil }
    let neurons = Double(matching.reduce(0) { $0 + $1.neurons })
    return run.timesteps.indices.map { row in
      matching.reduce(0.0) { $0 + $1.meanAbsError[row] * Double($1.neurons) } / neurons
    }
  }

  // MARK: Plots

  private var timeAxis: Axis {
    let all = Set(runs.flatMap(\.timesteps)).sorted()
    let ticks = all.count <= 12 ? all.map(Double.init) : nil
    return Axis(
      "time steps T", scale: .log, range: Double(all.first!)...Double(all.last!), ticks: ticks,
      format: { String(Int($0)) })
  }

  /// Accuracy against T for every run, with the ANN's accuracy as reference line(s).
  public func accuracyPlot() -> LinePlot {
    let series = zip(labels, runs).map { label, run in
      Series(label, points: zip(run.timesteps, run.accuracy).map { (Double($0), $1 * 100) })
    }
    var references = [ReferenceLine]()
    for run in runs where !references.contains(where: { abs($0.y - run.annAccuracy * 100) < 1e-9 }) {
      let name = Set(runs.map(\.settings.name)).count > 1 ? "ANN \(run.settings.name)" : "ANN"
      references.append(
        ReferenceLine("\(name) \(String(format: "%.2f", run.annAccuracy * 100)) %", y: run.annAccuracy * 100))
    }
    return LinePlot(
      title: "Top-1 accuracy", x: timeAxis, y: Axis("accuracy (%)"), series: series, references: references)
  }

  /// Whether some run sends more than one bit per neuron and step (burst neurons), so that
  /// accuracy against T alone would compare it unfairly with binary runs.
  public var hasMultiBitRuns: Bool { runs.contains { $0.settings.bits != 1 } }

  /// Accuracy against the bits each neuron sent in all, `T·b` (b bits per step, 1 for binary
  /// spikes), for every run: multi-bit and binary runs compared at equal traffic.
  public func bitsPlot() -> LinePlot {
    let series = zip(labels, runs).map { label, run in
      Series(
        label, points: zip(run.timesteps, run.accuracy).map { (Double($0) * run.settings.bits, $1 * 100) })
    }
    let all = Set(runs.flatMap { run in run.timesteps.map { Double($0) * run.settings.bits } }).sorted()
    let axis = Axis(
      "bits per neuron T·b", scale: .log, range: all.first!...all.last!,
      ticks: all.count <= 12 ? all : nil, format: { String(format: "%g", $0) })
    return LinePlot(
      title: "Top-1 accuracy against bits sent", x: axis, y: Axis("accuracy (%)"), series: series,
      references: accuracyPlot().references)
  }

  /// Mean absolute error against T (log–log) of the populations of one op, one curve per run.
  public func errorPlot(op: String) -> LinePlot {
    let series = zip(labels, runs).compactMap { label, run -> Series? in
      guard let errors = Self.meanAbsError(run, op: op) else { return nil }
      return Series(label, points: zip(run.timesteps, errors).map { (Double($0), $1) })
    }
    return LinePlot(
      title: "\(op) populations: mean absolute error", x: timeAxis,
      y: Axis("mean |estimate − ANN|", scale: .log), series: series)
  }

  /// A line plot of the report, the file it is written under and the section it is shown in.
  public struct Plot {
    /// The sections of the HTML and Markdown pages that show plots, in page order.
    public enum Section: CaseIterable, Sendable {
      case accuracy, errorByOp, errorByPopulation, activity
    }
    public let file: String
    public let section: Section
    public let plot: LinePlot
  }

  /// Every plot, with its file and section, in the order the pages show them within a section.
  public func plots() -> [Plot] {
    [Plot(file: "accuracy.svg", section: .accuracy, plot: accuracyPlot())]
      + (hasMultiBitRuns ? [Plot(file: "accuracy-bits.svg", section: .accuracy, plot: bitsPlot())] : [])
      + (costedRuns.isEmpty ? [] : [Plot(file: "energy.svg", section: .activity, plot: energyPlot())])
      + [Plot(file: "rates.svg", section: .activity, plot: ratePlot())]
      + ops.map { Plot(file: "error-\(Self.fileSafe($0)).svg", section: .errorByOp, plot: errorPlot(op: $0)) }
      + populationEntries.map {
        Plot(
          file: "population-\(Self.fileSafe($0.name)).svg", section: .errorByPopulation,
          plot: populationPlot($0.name, title: $0.label))
      }
  }

  /// A spike raster for every run that recorded one, with the file it is written under.
  public func rasterPlots() -> [(file: String, plot: RasterPlot)] {
    zip(labels, runs).enumerated().compactMap { index, item in
      guard let raster = item.1.raster else { return nil }
      return (
        "raster-\(index + 1).svg",
        RasterPlot(
          title: "\(item.0): spikes of image \(raster.image) (label \(raster.label))", raster: raster)
      )
    }
  }

  /// The populations that get a plot, with its title: each population, except that a decomposed
  /// layer's many populations get one plot, of the layer's output (``PopulationGroups``).
  public var populationEntries: [(label: String, name: String)] {
    let names = populationNames
    return PopulationGroups.entries(names).map { ($0.label, names[$0.representative]) }
  }

  /// The populations' names across the runs, in order of first appearance.
  public var populationNames: [String] {
    var seen = [String]()
    for run in runs {
      for population in run.populations where !seen.contains(population.name) { seen.append(population.name) }
    }
    return seen
  }

  /// One population's mean absolute error against T (log–log), one curve per run that has it.
  public func populationPlot(_ name: String, title: String? = nil) -> LinePlot {
    let series = zip(labels, runs).compactMap { label, run -> Series? in
      guard let population = run.populations.first(where: { $0.name == name }) else { return nil }
      return Series(label, points: zip(run.timesteps, population.meanAbsError).map { (Double($0), $1) })
    }
    let op = runs.lazy.compactMap { $0.populations.first { $0.name == name }?.op }.first ?? ""
    return LinePlot(
      title: "\(title ?? name) (\(op)): mean absolute error", x: timeAxis,
      y: Axis("mean |estimate − ANN|", scale: .log),
      series: series)
  }

  // MARK: Tables

  /// (header, rows) of the convergence table.
  public func convergenceTable() -> (header: [String], rows: [[String]]) {
    let header = [
      "run", "ANN accuracy", "T within 1 pp", "T within 0.1 pp", "accuracy at largest T", "largest T",
    ]
    let rows = zip(labels, runs).map { label, run in
      [
        label, percent(run.annAccuracy),
        run.timesteps(toWithin: 0.01).map(String.init) ?? "not reached",
        run.timesteps(toWithin: 0.001).map(String.init) ?? "not reached",
        percent(run.accuracy.last!), String(run.timesteps.last!),
      ]
    }
    return (header, rows)
  }

  /// Every T any run measured, in order.
  var allTimesteps: [Int] { Array(Set(runs.flatMap(\.timesteps))).sorted() }

  /// (header, rows) of the wide accuracy table: one row per run, its ANN's accuracy, its
  /// accuracy at every T any run measured (blank where it has none), in % with two decimals,
  /// and the T it needs to come within 1 and 0.1 pp of the ANN for good (blank: never).
  /// `columns` names the T columns and the last two (`T = 4` or `t4`, …).
  public func wideTable(
    timestepColumn: (Int) -> String = { "T = \($0)" },
    within: (one: String, tenth: String) = ("T within 1 pp", "T within 0.1 pp"), ann: String = "ANN"
  ) -> (header: [String], rows: [[String]]) {
    let timesteps = allTimesteps
    let header = ["run", ann] + timesteps.map(timestepColumn) + [within.one, within.tenth]
    let rows = zip(labels, runs).map { label, run -> [String] in
      let measured = Dictionary(uniqueKeysWithValues: zip(run.timesteps, run.accuracy))
      return [label, String(format: "%.2f", run.annAccuracy * 100)]
        + timesteps.map { t in measured[t].map { String(format: "%.2f", $0 * 100) } ?? "" }
        + [
          run.timesteps(toWithin: 0.01).map(String.init) ?? "",
          run.timesteps(toWithin: 0.001).map(String.init) ?? "",
        ]
    }
    return (header, rows)
  }

  /// The wide accuracy table as a LaTeX `tabular` (booktabs rules), to paste into a paper.
  func accuracyLaTeX() -> String {
    func escaped(_ text: String) -> String {
      text.replacing([
        "\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
        "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}", "γ": "$\\gamma$",
        "η": "$\\eta$", "₀": "$_0$",
      ])
    }
    let table = wideTable()
    let timesteps = allTimesteps
    var lines = [
      "% Top-1 accuracy (%) of each run at every number of time steps T; written by snnsim report.",
      "% Needs \\usepackage{booktabs}.",
      "\\begin{tabular}{l" + String(repeating: "r", count: timesteps.count + 3) + "}",
      "\\toprule",
      " & & \\multicolumn{\(timesteps.count)}{c}{accuracy (\\%) at $T =$} & \\multicolumn{2}{c}{$T$ to reach the ANN} \\\\",
      "\\cmidrule(lr){3-\(timesteps.count + 2)}\\cmidrule(lr){\(timesteps.count + 3)-\(timesteps.count + 4)}",
      (["run", "ANN (\\%)"] + timesteps.map(String.init) + ["1 pp", "0.1 pp"]).joined(separator: " & ")
        + " \\\\",
      "\\midrule",
    ]
    for row in table.rows {
      lines.append(
        ([escaped(row[0])] + row.dropFirst().map { $0.isEmpty ? "--" : $0 }).joined(separator: " & ")
          + " \\\\")
    }
    lines += ["\\bottomrule", "\\end{tabular}"]
    return lines.joined(separator: "\n") + "\n"
  }

  /// (header, rows) of the activity table, at each run's largest T.
  public func activityTable() -> (header: [String], rows: [[String]]) {
    let header = ["run", "T", "neurons", "spikes per neuron per step", "synaptic operations per image"]
    let rows = zip(labels, runs).map { label, run in
      let activity = Self.activity(run)
      return [
        label, String(run.timesteps.last!), String(run.populations.reduce(0) { $0 + $1.neurons }),
        String(format: "%.4f", activity.spikesPerNeuronPerStep.last!),
        String(format: "%.4g", activity.synapticOperations.last!),
      ]
    }
    return (header, rows)
  }

  /// Energy per operation at 45 nm in 32-bit floating point (Horowitz, ISSCC 2014): an add
  /// costs 0.9 pJ and a multiply 3.7 pJ, so a synaptic operation — a spike adding its weight to
  /// a target, an accumulate — 0.9 pJ, and a multiply-accumulate 4.6 pJ. Memory access, which
  /// often dominates, is left out, as in the estimates of the ANN-to-SNN literature.
  public enum EnergyModel {
    public static let accumulatePicojoules = 0.9
    public static let multiplyAccumulatePicojoules = 4.6

    /// The spiking network's estimate per image, in nanojoules: its synaptic operations as
    /// accumulates and the layers it computes once per image as multiply-accumulates.
    public static func spiking(synapticOperations: Double, onceMultiplyAccumulates: Double) -> Double {
      (synapticOperations * accumulatePicojoules + onceMultiplyAccumulates * multiplyAccumulatePicojoules)
        / 1000
    }

    /// The ANN's estimate per image, in nanojoules: its weight layers' multiply-accumulates.
    public static func ann(multiplyAccumulates: Double) -> Double {
      multiplyAccumulates * multiplyAccumulatePicojoules / 1000
    }

    /// The figures, as the page and the plot state them.
    static var figures: String {
      "\(String(format: "%g", accumulatePicojoules)) pJ per synaptic operation, \(String(format: "%g", multiplyAccumulatePicojoules)) pJ per multiply-accumulate"
    }
  }

  /// A costed run's spiking energy estimate per image at each of its T.
  static func spikingEnergies(_ run: RunRecord, onceMACs: Double) -> [Double] {
    activity(run).synapticOperations.map {
      EnergyModel.spiking(synapticOperations: $0, onceMultiplyAccumulates: onceMACs)
    }
  }

  /// The runs that record their ANN's multiply-accumulates (every run made since they are counted).
  var costedRuns: [(label: String, run: RunRecord, annMACs: Double, onceMACs: Double)] {
    zip(labels, runs).compactMap { label, run in
      guard let ann = run.annMultiplyAccumulates else { return nil }
      return (label, run, ann, run.onceMultiplyAccumulates ?? 0)
    }
  }

  /// Per run and T: synaptic operations and energy per image against the ANN's (``EnergyModel``).
  public func energyTable() -> (header: [String], rows: [[String]]) {
    let header = [
      "run", "timesteps", "accuracy", "synaptic_operations", "once_multiply_accumulates", "snn_energy_nj",
      "ann_multiply_accumulates", "ann_energy_nj", "energy_ratio",
    ]
    var rows = [[String]]()
    for (label, run, annMACs, onceMACs) in costedRuns {
      let operations = Self.activity(run).synapticOperations
      let energies = Self.spikingEnergies(run, onceMACs: onceMACs)
      let ann = EnergyModel.ann(multiplyAccumulates: annMACs)
      for (row, t) in run.timesteps.enumerated() {
        let snn = energies[row]
        rows.append([
          label, String(t), String(run.accuracy[row]), String(operations[row]), String(onceMACs), String(snn),
          String(annMACs), String(ann), ann > 0 ? String(snn / ann) : "",
        ])
      }
    }
    return (header, rows)
  }

  /// Spikes per neuron per step against T for each population of the first run (a decomposed
  /// layer as one curve, its output population's), log–log.
  public func ratePlot() -> LinePlot {
    let run = runs[0]
    let names = run.populations.map(\.name)
    let series = PopulationGroups.entries(names).compactMap { entry -> Series? in
      let rates = run.populations[entry.representative].spikesPerNeuronPerStep
      // A log axis has no place for a population that never fired.
      let points = zip(run.timesteps, rates).filter { $1 > 0 }.map { (Double($0), $1) }
      return points.isEmpty ? nil : Series(entry.label, points: points)
    }
    return LinePlot(
      title: "\(labels[0]): spikes per neuron per step, by population", x: timeAxis,
      y: Axis("spikes per neuron per step", scale: .log), series: series)
  }

  /// Accuracy against estimated energy per image (log x), one curve per run over its T, and
  /// each ANN as one point.
  public func energyPlot() -> LinePlot {
    var series = [Series]()
    var anns = [String: (Double, Double)]()
    for (label, run, annMACs, onceMACs) in costedRuns {
      let energies = Self.spikingEnergies(run, onceMACs: onceMACs)
      series.append(Series(label, points: zip(energies, run.accuracy).map { ($0, $1 * 100) }))
      anns["ANN \(run.settings.name)"] = (
        EnergyModel.ann(multiplyAccumulates: annMACs), run.annAccuracy * 100
      )
    }
    for (name, point) in anns.sorted(by: { $0.key < $1.key }) { series.append(Series(name, points: [point])) }
    return LinePlot(
      title: "Accuracy against energy per image",
      x: Axis(
        "estimated energy per image (nJ; \(String(format: "%g", EnergyModel.accumulatePicojoules)) pJ per SOP, \(String(format: "%g", EnergyModel.multiplyAccumulatePicojoules)) pJ per MAC)",
        scale: .log),
      y: Axis("accuracy (%)"), series: series)
  }

  /// (header, rows) of the settings table.
  public func settingsTable() -> (header: [String], rows: [[String]]) {
    let header = [
      "run", "model", "sha256", "dynamics", "tuned for", "schedule", "normalization", "granularity",
      "composites", "engine",
      "input", "data", "images", "seconds",
    ]
    let rows = zip(labels, runs).map { label, run -> [String] in
      let s = run.settings
      let tuned: String = s.targetTimesteps.map { "T = \($0)" } ?? "—"
      // A tuned network has a schedule per population: too many to list.
      let schedules: String =
        s.schedules.count > 4
        ? "\(s.schedules.count) schedules" : s.schedules.map(\.description).joined(separator: ", ")
      return [
        label, s.sourceModel, String(s.sourceSha256.prefix(12)),
        s.dynamics.map(\.rawValue).joined(separator: ", "), tuned, schedules,
        "\(s.normalization) (\(s.calibrationImages) images)",
        s.granularity.rawValue,
        s.fused ? "fused" : "decomposed", s.engine.rawValue, s.input.rawValue, s.data,
        s.limit.map { "\(run.images) (limit \($0))" } ?? String(run.images),
        String(format: "%.1f", run.seconds),
      ]
    }
    return (header, rows)
  }

  /// The settings table as the page shows it: the settings every run shares, as (name, value)
  /// pairs said once above the table, and the table of the run, the settings that differ and
  /// the seconds — so that it fits the page (`settings.csv` keeps every column).
  public func settingsByDifference() -> (
    common: [(name: String, value: String)], table: (header: [String], rows: [[String]])
  ) {
    let full = settingsTable()
    let last = full.header.count - 1
    let shared = Set(
      (1..<last).filter { column in Set(full.rows.map { $0[column] }).count == 1 })
    let kept = full.header.indices.filter { !shared.contains($0) }
    return (
      shared.sorted().map { (full.header[$0], full.rows[0][$0]) },
      (kept.map { full.header[$0] }, full.rows.map { row in kept.map { row[$0] } })
    )
  }

  // MARK: Output

  /// Labels from the settings that tell runs apart: fields are taken in order of importance,
  /// each only if it separates runs the fields before it left together.
  static func labels(for runs: [RunRecord]) -> [String] {
    let fields: [(RunRecord) -> String] =
      [
        { $0.settings.name }, { $0.settings.dynamics.map(\.rawValue).joined(separator: "+") },
        { $0.settings.normalization.description }, { $0.settings.granularity.rawValue },
        { $0.settings.fused ? "fused" : "decomposed" },
        { $0.settings.targetTimesteps.map { "tuned for T = \($0)" } ?? "not tuned" },
        { $0.settings.schedules.map(\.description).joined(separator: "+") },
        { "\($0.settings.engine.rawValue) engine" }, { "\($0.settings.input.rawValue) input" },
      ]
      + NeuronParameters.all.map { parameter in
        { (run: RunRecord) -> String in
          guard let settings = run.settings.neuronSettings else { return "" }
          return settings[parameter.name].map { "\(parameter.name) \($0)" } ?? "no \(parameter.name)"
        }
      } + [
        { $0.settings.initialMembrane.map { "v₀ = \(String(format: "%g", $0))" } ?? "" },
        { "\($0.settings.calibrationImages) calibration images" }, { "\($0.images) images" },
      ]
    var chosen = [Int]()
    func key(_ run: RunRecord, _ indices: [Int]) -> [String] { indices.map { fields[$0](run) } }
    for index in fields.indices {
      let before = Set(runs.map { key($0, chosen) }).count
      if Set(runs.map { key($0, chosen + [index]) }).count > before { chosen.append(index) }
    }
    if chosen.isEmpty { chosen = [1, 2] }
    // A field that does not apply to a run (a reset without membrane neurons) is left out.
    let labels = runs.map { key($0, chosen).filter { !$0.isEmpty }.joined(separator: ", ") }
    // Identical settings (repeated runs) are told apart by position.
    return labels.enumerated().map { index, label in
      labels.filter { $0 == label }.count > 1 ? "\(label) #\(index + 1)" : label
    }
  }

  static func fileSafe(_ text: String) -> String {
    String(text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
  }
}

/// Why a report could not be written.
public enum ReportError: Error, Equatable, CustomStringConvertible {
  case notADirectory(String)
  case cannotCreate(String, reason: String)

  public var description: String {
    switch self {
    case .notADirectory(let path):
      return "\(path) exists and is not a directory; give a directory for the report"
    case .cannotCreate(let path, let reason): return "cannot create the report directory \(path): \(reason)"
    }
  }
}

func percent(_ value: Double) -> String { String(format: "%.2f %%", value * 100) }

func csv(_ header: [String], _ rows: [[String]]) -> String {
  func field(_ text: String) -> String {
    text.utf8.contains(where: {
      $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n")
    })
      ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
  }
  return ([header] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
}
