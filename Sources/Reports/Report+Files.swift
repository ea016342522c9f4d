import AtomicFile
import Foundation
import Results
import Spiking

/// The report written out: SVG plots, HTML, Markdown, CSV and LaTeX.
extension Report {
  /// Writes `index.html`, `summary.md`, the plots as SVG files, `accuracy.csv` (long: one row
  /// per run and T), `accuracy-wide.csv` and `accuracy.tex` (one row per run, one column per
  /// T), `errors.csv` (per population), `convergence.csv`, `activity.csv`, `settings.csv`,
  /// `energy.csv` (synaptic operations and energy per run and T, ``EnergyModel``) into
  /// `directory` (created if needed). Each file is written atomically; CSV cells are numbers.
  /// - Throws: ``ReportError/notADirectory(_:)`` when `directory` exists and is not one.
  public func write(to directory: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else { throw ReportError.notADirectory(directory) }
    } else {
      do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      } catch {
        throw ReportError.cannotCreate(directory, reason: (error as NSError).localizedDescription)
      }
    }
    func put(_ name: String, _ text: String) throws {
      try AtomicFile.write(text, to: (directory as NSString).appendingPathComponent(name))
    }
    let plots = plots().map {
      RenderedPlot(file: $0.file, section: $0.section, title: $0.plot.title, svg: $0.plot.render())
    }
    let rasters = rasterPlots().map {
      RenderedPlot(file: $0.file, section: .activity, title: $0.plot.title, svg: $0.plot.render())
    }
    for plot in plots + rasters { try put(plot.file, plot.svg) }
    try put("index.html", html(plots, rasters: rasters))
    try put("summary.md", markdown(plots, rasters: rasters))
    try put("accuracy.csv", accuracyCSV())
    try put("errors.csv", errorsCSV())
    for (name, table) in [
      ("activity.csv", activityTable()), ("settings.csv", settingsTable()), ("energy.csv", energyTable()),
      (
        "accuracy-wide.csv",
        wideTable(
          timestepColumn: { "t\($0)_percent" }, within: ("t_within_1pp", "t_within_0.1pp"), ann: "ann_percent"
        )
      ),
    ] {
      try put(name, csv(table.header, table.rows))
    }
    try put("convergence.csv", convergenceCSV())
    try put("accuracy.tex", accuracyLaTeX())
  }

  /// The convergence table with numbers for cells (accuracies as fractions, blank T where it is
  /// never reached).
  func convergenceCSV() -> String {
    csv(
      ["run", "ann_accuracy", "t_within_1pp", "t_within_0.1pp", "accuracy_at_largest_t", "largest_t"],
      zip(labels, runs).map { label, run in
        [
          label, String(run.annAccuracy), run.timesteps(toWithin: 0.01).map(String.init) ?? "",
          run.timesteps(toWithin: 0.001).map(String.init) ?? "", String(run.accuracy.last!),
          String(run.timesteps.last!),
        ]
      })
  }

  func accuracyCSV() -> String {
    var rows = [[String]]()
    for (label, run) in zip(labels, runs) {
      let activity = Self.activity(run)
      for (row, t) in run.timesteps.enumerated() {
        rows.append([
          label, String(t), String(run.accuracy[row]), String(run.annAccuracy),
          String(activity.spikesPerNeuronPerStep[row]), String(activity.synapticOperations[row]),
        ])
      }
    }
    return csv(
      ["run", "timesteps", "accuracy", "ann_accuracy", "spikes_per_neuron_per_step", "synaptic_operations"],
      rows)
  }

  func errorsCSV() -> String {
    var rows = [[String]]()
    for (label, run) in zip(labels, runs) {
      for population in run.populations {
        for (row, t) in run.timesteps.enumerated() {
          rows.append([
            label, population.name, population.op, population.dynamics.rawValue, String(population.neurons),
            String(t), String(population.meanAbsError[row]), String(population.meanRelativeError[row]),
            String(population.spikesPerNeuronPerStep[row]), String(population.synapticOperations[row]),
          ])
        }
      }
    }
    return csv(
      [
        "run", "population", "op", "dynamics", "neurons", "timesteps", "mean_abs_error",
        "mean_relative_error",
        "spikes_per_neuron_per_step", "synaptic_operations",
      ], rows)
  }

  /// A plot drawn, as the pages place it.
  struct RenderedPlot {
    let file: String
    let section: Plot.Section
    let title: String
    let svg: String
  }

  func html(_ plots: [RenderedPlot], rasters: [RenderedPlot] = []) -> String {
    func figures(_ section: Plot.Section) -> String {
      plots.filter { $0.section == section }.map { "<figure class=\"plot\">\n\($0.svg)</figure>\n" }.joined()
    }
    func table(_ t: (header: [String], rows: [[String]])) -> String {
      "<table>\n<tr>" + t.header.map { "<th>\(escapeXML($0))</th>" }.joined() + "</tr>\n"
        + t.rows.map { "<tr>" + $0.map { "<td>\(escapeXML($0))</td>" }.joined() + "</tr>" }.joined(
          separator: "\n")
        + "\n</table>\n"
    }
    let names = Set(runs.map(\.settings.name)).sorted().joined(separator: ", ")
    var page = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8"/>
      <title>Spiking approximation report: \(escapeXML(names))</title>
      <style>
      body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; background: #fff; }
      h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
      table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; max-width: 100%; }
      th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; overflow-wrap: anywhere; }
      th { background: #f0f0f0; }
      figure { margin: 1em 0; display: inline-block; }
      p.note { color: #555; font-size: 0.9em; }
      </style>
      </head>
      <body>
      <h1>Spiking approximation report: \(escapeXML(names))</h1>
      <p>\(runs.count) run\(runs.count == 1 ? "" : "s") of <code>snnsim</code>; labels name the settings that differ.</p>
      <h2>Accuracy</h2>

      """
    page += figures(.accuracy)
    page += "<h2>Time steps to reach the ANN</h2>\n" + table(convergenceTable())
    page += "<h2>Accuracy (%) at every T</h2>\n" + table(wideTable())
    page += "<p class=\"note\">The first measured T from which the accuracy stays within 1 pp (0.1 pp) "
    page += "of the ANN's at every larger measured T.</p>\n"
    page += "<h2>Approximation error by op</h2>\n"
    page += "<p class=\"note\">Mean over neurons and images of |λ·v − a|, a the ANN's activation, "
    page += "averaged over the populations of each op weighted by their neurons.</p>\n"
    page += figures(.errorByOp)
    page += "<h2>Approximation error by population</h2>\n"
    page += figures(.errorByPopulation)
    page += "<h2>Activity and energy</h2>\n" + table(activityTable())
    page += "<p class=\"note\">Synaptic operations: spikes × the mean fan-out of the spiking neuron "
    page += "(docs/snn-format.md). Energy: \(EnergyModel.figures) "
    page += "(45 nm, 32-bit float; Horowitz, ISSCC 2014), memory access left out; "
    page += "energy.csv has every T.</p>\n"
    page += figures(.activity)
    if !rasters.isEmpty {
      page += "<h2>Spike raster</h2>\n<p class=\"note\">\(Self.rasterNote)</p>\n"
      for plot in rasters { page += "<figure class=\"plot\">\n\(plot.svg)</figure>\n" }
    }
    let settings = settingsByDifference()
    page += "<h2>Settings</h2>\n"
    if !settings.common.isEmpty {
      page += "<p class=\"common\">" + (runs.count > 1 ? "Every run: " : "")
      page += settings.common.map { "\(escapeXML($0.name)) <b>\(escapeXML($0.value))</b>" }.joined(
        separator: "; ")
      page += ".</p>\n"
    }
    page += table(settings.table)
    return page + "</body>\n</html>\n"
  }

  func markdown(_ plots: [RenderedPlot], rasters: [RenderedPlot] = []) -> String {
    func images(_ section: Plot.Section) -> String {
      plots.filter { $0.section == section }.map { "![\($0.title)](\($0.file))\n\n" }.joined()
    }
    func table(_ t: (header: [String], rows: [[String]])) -> String {
      func row(_ cells: [String]) -> String {
        "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
      }
      return ([row(t.header), row(t.header.map { _ in "---" })] + t.rows.map(row)).joined(separator: "\n")
        + "\n"
    }
    var text =
      "# Spiking approximation report: \(Set(runs.map(\.settings.name)).sorted().joined(separator: ", "))\n\n"
    text +=
      images(.accuracy) + "## Time steps to reach the ANN\n\n"
      + table(convergenceTable()) + "\n## Accuracy (%) at every T\n\n" + table(wideTable())
    text += "\n## Approximation error by op\n\n"
    text += images(.errorByOp)
    text += "## Approximation error by population\n\n"
    text += images(.errorByPopulation)
    text += "## Activity and energy\n\n" + table(activityTable()) + "\n"
    text += images(.activity)
    if !rasters.isEmpty {
      text += "## Spike raster\n\n\(Self.rasterNote)\n\n"
      for plot in rasters { text += "![\(plot.title)](\(plot.file))\n\n" }
    }
    let settings = settingsByDifference()
    text += "## Settings\n\n"
    if !settings.common.isEmpty {
      text += (runs.count > 1 ? "Every run: " : "")
      text += settings.common.map { "\($0.name) **\($0.value)**" }.joined(separator: "; ") + ".\n\n"
    }
    text += table(settings.table)
    return text
  }

  // MARK: Helpers

  /// What a raster shows, under its heading.
  static let rasterNote =
    "One image simulated alone: each row a neuron (up to \(SpikeRaster.rowsPerPopulation) per population, "
    + "evenly spaced), each mark a spike at that time step (at most the first \(SpikeRaster.maximumSteps)); "
    + "a decomposed layer is shown by its output population."
}
