import Conversion
import Datasets
import Foundation
import ModelIO
import Results
import Spiking
import TestSupport
import Testing

@testable import Reports

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// An XML document as a tree of elements (enough to check a report's structure).
final class Element {
  let name: String
  let attributes: [String: String]
  var children: [Element] = []
  var text = ""
  init(name: String, attributes: [String: String]) {
    self.name = name
    self.attributes = attributes
  }

  /// Every element below (and including) this one, depth first.
  var all: [Element] { [self] + children.flatMap(\.all) }
  func elements(_ name: String, class wanted: String? = nil) -> [Element] {
    all.filter { $0.name == name && (wanted == nil || $0.attributes["class"] == wanted) }
  }
  /// The text of this element and its descendants.
  var allText: String { text + children.map(\.allText).joined() }

  /// Parses `data`, failing the test if it is not well-formed XML.
  static func parse(_ data: Data, sourceLocation: SourceLocation = #_sourceLocation) -> Element? {
    final class Builder: NSObject, XMLParserDelegate {
      var stack = [Element(name: "#document", attributes: [:])]
      func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
      ) {
        let element = Element(name: name, attributes: attributes)
        stack.last!.children.append(element)
        stack.append(element)
      }
      func parser(
        _ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?
      ) {
        stack.removeLast()
      }
      func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last!.text += string }
    }
    let parser = XMLParser(data: data)
    let builder = Builder()
    parser.delegate = builder
    guard parser.parse() else {
      Issue.record(
        "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")", sourceLocation: sourceLocation)
      return nil
    }
    return builder.stack[0].children.first
  }
}

/// Four real runs of the Keras-trained MLP (signGD and IF, with and without normalization) on
/// 100 test images, made once; the normalized ones record the spikes of image 5.
let madeSampleRuns = Result { () throws -> [RunRecord] in
  let model = try KerasModelReader.read(
    repositoryRoot.appendingPathComponent("models/keras_fashion_mlp.h5").path)
  let test = try DataSource.fashionMNIST.load(.test, limit: 100)
  let calibration = try DataSource.fashionMNIST.load(.train, limit: 200).images
  var runs = [RunRecord]()
  for dynamics in [Dynamics.signGD, .subgradient] {
    for normalization in [Normalization.none, .max] {
      let network = try SpikingNetwork(
        model, dynamics: dynamics, normalization: normalization, calibration: calibration)
      let result = try Simulator.run(
        network, images: test.images, labels: test.labels,
        settings: SimulationSettings(
          timesteps: [4, 16, 64, 256], rasterImage: normalization == .max ? 5 : nil))
      let settings = RunRecord.Settings(
        network: network, networkPath: "mlp.snn.h5", sourceModel: "models/keras_fashion_mlp.h5",
        sourceSha256: "0123456789abcdef", simulation: SimulationSettings(timesteps: [4, 16, 64, 256]),
        data: test.name, limit: 100)
      runs.append(RunRecord(settings: settings, result: result, seconds: 1))
    }
  }
  return runs
}

/// The sample runs; reading them fails the test that asks instead of the whole run.
var sampleRuns: [RunRecord] { get throws { try madeSampleRuns.get() } }

@Suite struct ReportTests {
  let directory: URL
  init() throws { directory = try makeTemporaryDirectory("report") }

  @Test(.needsFashionMNIST) func labelsNameWhatDiffers() throws {
    let sampleRuns = try sampleRuns
    let labels = Report(runs: sampleRuns).labels
    #expect(labels == ["signgd, none", "signgd, max", "subgradient, none", "subgradient, max"])
    #expect(Report(runs: [sampleRuns[0], sampleRuns[0]]).labels == ["signgd, none #1", "signgd, none #2"])
  }

  /// energy.csv: the ANN's multiply-accumulates are its Dense layers' weights (one input each);
  /// the spiking network computes the first layer once per image (analog input) and pays
  /// 0.9 pJ per synaptic operation; the ANN 4.6 pJ per multiply-accumulate (Horowitz 2014).
  @Test(.needsFashionMNIST) func energyTableFollowsTheDocumentedModel() throws {
    let runs = try sampleRuns
    let model = try KerasModelReader.read(
      repositoryRoot.appendingPathComponent("models/keras_fashion_mlp.h5").path)
    let kernels = model.nodes.compactMap { $0.parameters["kernel"]?.count }
    let table = Report(runs: runs).energyTable()
    let column = { (name: String) in table.header.firstIndex(of: name)! }
    #expect(table.rows.count == runs.count * 4)
    for (k, row) in table.rows.enumerated() {
      let run = runs[k / 4]
      let t = k % 4
      let operations = Report.activity(run).synapticOperations[t]
      #expect(Double(row[column("ann_multiply_accumulates")]) == Double(kernels.reduce(0, +)))
      #expect(Double(row[column("once_multiply_accumulates")]) == Double(kernels[0]))
      #expect(Double(row[column("synaptic_operations")]) == operations)
      let snn = (operations * 0.9 + Double(kernels[0]) * 4.6) / 1000
      #expect(abs(Double(row[column("snn_energy_nj")])! - snn) <= 1e-9 * snn)
      let ann = Double(kernels.reduce(0, +)) * 4.6 / 1000
      #expect(abs(Double(row[column("ann_energy_nj")])! - ann) <= 1e-9 * ann)
      #expect(abs(Double(row[column("energy_ratio")])! - snn / ann) <= 1e-9)
    }
  }

  /// Every layout a run record has had: format 0 (settings as text; the fixture follows the
  /// record struct as it was before records were typed) is refused naming it, the typed records
  /// written before the format was stored read (the runs committed under docs/runs), this
  /// version's records say their format, and a newer format is refused naming it.
  @Test func runRecordsOfEveryLayoutReadOrAreRefusedByName() throws {
    let old = repositoryRoot.appendingPathComponent("Tests/ReportsTests/Fixtures/run-format0.json")
    let error = #expect(throws: RunRecordError.self) { try RunRecord(json: try Data(contentsOf: old)) }
    #expect(
      "\(error!)".contains("format 0") && "\(error!)".contains("geometric(eta0: 0.15, gamma: 0.95)"),
      "\(error!)")
    let runs = repositoryRoot.appendingPathComponent("docs/runs")
    let committed = try FileManager.default.contentsOfDirectory(atPath: runs.path).filter {
      $0.hasSuffix(".json")
    }
    #expect(committed.count >= 10)
    for name in committed {
      let record = try RunRecord.read(json: runs.appendingPathComponent(name).path)
      #expect(record.formatVersion == nil || record.formatVersion == RunRecord.currentFormat, "\(name)")
    }
    let record = try RunRecord.read(json: runs.appendingPathComponent(committed.sorted()[0]).path)
    let written = String(decoding: try record.encoded(), as: UTF8.self)
    #expect(RunRecord.currentFormat == 1)
    var object = try JSONSerialization.jsonObject(with: Data(written.utf8)) as! [String: Any]
    object["format_version"] = 2
    let newer = try JSONSerialization.data(withJSONObject: object)
    let refusal = #expect(throws: RunRecordError.self) { try RunRecord(json: newer) }
    #expect("\(refusal!)".contains("format 2, written by a newer snnsim"), "\(refusal!)")
  }

  @Test func timeToReachTheANNMustHold() throws {
    let json = """
      {"settings": {"network": "n", "name": "m", "source_model": "m.h5", "source_sha256": "0", "dynamics": ["signgd"],
       "schedules": [{"geometric": {"eta0": 0.15, "gamma": 0.95}}], "normalization": "max", "granularity": "layer", "fused": false, "calibration_images": 1,
       "engine": "dense", "input": "analog", "data": "d", "limit": null, "batch_size": 1},
       "images": 1, "ann_accuracy": 0.9, "seconds": 1, "timesteps": [1, 2, 4, 8, 16],
       "accuracy": [0.5, 0.895, 0.85, 0.8995, 0.9], "populations": []}
      """
    let run = try RunRecord(json: Data(json.utf8))
    // Within 1 pp at T = 2, but it drops out again at T = 4: it counts from T = 8.
    #expect(run.timesteps(toWithin: 0.01) == 8)
    #expect(run.timesteps(toWithin: 0.001) == 8)
    #expect(run.timesteps(toWithin: 0.0001) == 16)
  }

  @Test(.needsFashionMNIST) func svgPlotsHaveAxesCurvesAndLegends() throws {
    let report = Report(runs: try sampleRuns)
    let plots = report.plots()
    #expect(
      plots.map(\.file) == [
        "accuracy.svg", "energy.svg", "rates.svg", "error-relu.svg", "population-dense-relu.svg",
        "population-dense-1-relu.svg",
      ])
    // Energy: one curve per run over its T, and the ANN as one point.
    let energySVG = Element.parse(Data(plots[1].plot.render().utf8))!
    let energySeries = energySVG.elements("g", class: "series").map { $0.attributes["data-label"]! }
    #expect(energySeries == report.labels + ["ANN \(try sampleRuns[0].settings.name)"], "\(energySeries)")
    // Rates: one curve per population of the first run (the MLP has two ReLU layers).
    let rateSVG = Element.parse(Data(plots[2].plot.render().utf8))!
    #expect(
      rateSVG.elements("g", class: "series").map { $0.attributes["data-label"]! } == [
        "dense_relu", "dense_1_relu",
      ])
    // Every other plot: one curve per run.
    #expect(
      plots.map(\.section) == [
        .accuracy, .activity, .activity, .errorByOp, .errorByPopulation, .errorByPopulation,
      ])
    for (file, plot) in plots.map({ ($0.file, $0.plot) }) where file != "energy.svg" && file != "rates.svg" {
      guard let svg = Element.parse(Data(plot.render().utf8)) else { continue }
      #expect(svg.name == "svg" && svg.attributes["xmlns"] == "http://www.w3.org/2000/svg", "\(file)")
      // One curve per run, each through every measured T (signGD without normalization still
      // has positive errors), each in the legend under its label.
      let series = svg.elements("g", class: "series")
      #expect(series.map { $0.attributes["data-label"]! } == report.labels, "\(file)")
      for curve in series {
        let path = curve.elements("path").first { $0.attributes["class"] == nil }!
        #expect(path.attributes["d"]!.filter { $0 == "L" }.count == 3, "\(file): \(path.attributes["d"]!)")
        // A marker at every measured T.
        #expect(curve.all.filter { $0.attributes["class"] == "marker" }.count == 4, "\(file)")
      }
      let legend = svg.elements("g", class: "legend-entry")
      #expect(legend.map(\.allText) == report.labels, "\(file)")
      // Distinct styles: no two curves share colour and dash pattern.
      let styles = series.map { curve -> String in
        let path = curve.elements("path").first { $0.attributes["class"] == nil }!
        return "\(path.attributes["stroke"]!) \(path.attributes["stroke-dasharray"] ?? "solid")"
      }
      #expect(Set(styles).count == styles.count)
      // The time axis is logarithmic with the measured T as ticks, in order and evenly spaced.
      let xTicks = svg.elements("g", class: "x-axis").first!.elements("text", class: "tick")
      #expect(xTicks.map(\.allText) == ["4", "16", "64", "256"], "\(file)")
      let positions = xTicks.map { Double($0.attributes["x"]!)! }
      let gaps = zip(positions.dropFirst(), positions).map { $0 - $1 }
      #expect(gaps.allSatisfy { abs($0 - gaps[0]) < 0.05 }, "log spacing: \(positions)")
      #expect(svg.elements("text", class: "axis-label").count == 2)
    }
    // The error plot's y axis is logarithmic: every tick a power of ten (or 2·, 5·).
    let errorSVG = Element.parse(Data(plots[3].plot.render().utf8))!
    for tick in errorSVG.elements("g", class: "y-axis").first!.elements("text", class: "tick") {
      let value = Double(tick.allText)!
      let mantissa = value / pow(10, floor(log10(value)))
      #expect([1.0, 2, 5].contains { abs(mantissa - $0) < 1e-6 }, "tick \(tick.allText)")
    }
    // The accuracy plot draws the ANN's accuracy (the same for every run) once.
    let accuracySVG = Element.parse(Data(plots[0].plot.render().utf8))!
    let references = accuracySVG.elements("g", class: "reference")
    #expect(references.count == 1 && references[0].allText.hasPrefix("ANN "))
  }

  /// A run's raster becomes a plot with a band per population, as many rows as neurons shown and
  /// a mark per recorded spike, and survives the run record's JSON.
  @Test(.needsFashionMNIST) func rasterPlotsDrawEveryRecordedSpike() throws {
    let run = try sampleRuns[1]
    let raster = try #require(run.raster)
    #expect(raster.image == 5 && raster.steps == 256 && raster.problem == nil)
    #expect(raster.bands.map(\.population) == run.populations.map(\.name))
    #expect(raster.bands.allSatisfy { $0.shown.count == SpikeRaster.rowsPerPopulation && $0.spikeCount > 0 })
    #expect(try RunRecord(json: try run.encoded()).raster == raster)
    // A record this version writes says its layout.
    #expect(try RunRecord(json: try run.encoded()).formatVersion == RunRecord.currentFormat)
    #expect(String(decoding: try run.encoded(), as: UTF8.self).contains("\"format_version\" : 1"))
    let plots = Report(runs: try sampleRuns).rasterPlots()
    #expect(plots.map(\.file) == ["raster-2.svg", "raster-4.svg"])
    let svg = try #require(Element.parse(Data(plots[0].plot.render().utf8)))
    let bands = svg.elements("g", class: "band")
    #expect(bands.map { $0.attributes["data-population"]! } == raster.bands.map(\.population))
    for (band, recorded) in zip(bands, raster.bands) {
      let marks = band.elements("path", class: "spikes").reduce(0) {
        $0 + $1.attributes["d"]!.filter { $0 == "M" }.count
      }
      #expect(marks == recorded.spikeCount, "\(recorded.population)")
      #expect(
        band.elements("text", class: "band-count").first?.allText == "32 of \(recorded.neurons) neurons")
    }
  }

  /// The page says once what every run shares and tabulates only what differs; the CSV keeps
  /// every column.
  @Test(.needsFashionMNIST) func settingsSharedByEveryRunAreSaidOnce() throws {
    let report = Report(runs: try sampleRuns)
    let split = report.settingsByDifference()
    #expect(split.table.header == ["run", "dynamics", "schedule", "normalization", "granularity", "seconds"])
    #expect(split.table.rows.map(\.first!) == report.labels)
    let common = Dictionary(uniqueKeysWithValues: split.common.map { ($0.name, $0.value) })
    #expect(common["model"] == "models/keras_fashion_mlp.h5" && common["engine"] == "dense")
    #expect(split.common.count + split.table.header.count == report.settingsTable().header.count)
    // One run: everything but its label and time is said once.
    let one = Report(runs: [try sampleRuns[0]]).settingsByDifference()
    #expect(one.table.header == ["run", "seconds"] && one.common.count == 12)
  }

  /// A signed neuron's negative spikes are drawn apart, in their own colour, with a legend.
  @Test func negativeSpikesHaveTheirOwnMarks() throws {
    let raster = SpikeRaster(
      image: 0, label: 3, steps: 4,
      bands: [
        SpikeRaster.Band(
          population: "gelu", label: "gelu", dynamics: .signedSubgradient, neurons: 2, shown: [0, 1],
          spikes: ["+-.+", "--.."])
      ])
    let svg = try #require(Element.parse(Data(RasterPlot(title: "t", raster: raster).render().utf8)))
    let paths = svg.elements("path", class: "spikes")
    #expect(paths.map { $0.attributes["stroke"]! } == [RasterPlot.positiveColor, RasterPlot.negativeColor])
    #expect(paths.map { $0.attributes["d"]!.filter { $0 == "M" }.count } == [2, 3])
    #expect(svg.elements("text", class: "legend").first?.allText.contains("negative spike") == true)
  }

  @Test(.needsFashionMNIST) func reportDirectoryHoldsASelfContainedPageTablesAndCSV() throws {
    let sampleRuns = try sampleRuns
    let report = Report(runs: sampleRuns)
    try report.write(to: directory.path)
    let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
    #expect(
      files == [
        "index.html", "summary.md", "accuracy.svg", "energy.svg", "rates.svg", "error-relu.svg",
        "population-dense-relu.svg", "population-dense-1-relu.svg", "accuracy.csv", "errors.csv",
        "convergence.csv", "accuracy-wide.csv", "accuracy.tex", "activity.csv", "settings.csv", "energy.csv",
        "raster-2.svg", "raster-4.svg",
      ])
    let html = try Data(contentsOf: directory.appendingPathComponent("index.html"))
    let text = String(decoding: html, as: UTF8.self)
    // Self-contained: nothing fetched, nothing run.
    #expect(!text.contains("<script") && !text.contains("src=") && !text.contains("href="))
    #expect(!text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http"))
    guard let page = Element.parse(html) else { return }
    #expect(page.elements("svg").count == 8)
    let tables = page.elements("table")
    #expect(tables.count == 4)
    for table in tables {
      // A header row and one row per run, labelled.
      let rows = table.elements("tr")
      #expect(rows.count == 1 + sampleRuns.count)
      #expect(rows.dropFirst().map { $0.elements("td").first!.allText } == report.labels)
    }
    let convergence = page.elements("table")[0].elements("tr")[2].elements("td").map(\.allText)
    #expect(convergence[0] == "signgd, max" && convergence[2] != "not reached", "\(convergence)")
    let summary = try String(contentsOf: directory.appendingPathComponent("summary.md"), encoding: .utf8)
    #expect(summary.contains("![Top-1 accuracy](accuracy.svg)") && summary.contains("| signgd, max |"))
    #expect(
      summary.contains(
        "![signgd, max: spikes of image 5 (label \(sampleRuns[1].raster!.label))](raster-2.svg)"))
    let accuracyRows = try String(
      contentsOf: directory.appendingPathComponent("accuracy.csv"), encoding: .utf8
    )
    .split(separator: "\n")
    #expect(accuracyRows.count == 1 + sampleRuns.count * 4)
    #expect(
      accuracyRows[0] == "run,timesteps,accuracy,ann_accuracy,spikes_per_neuron_per_step,synaptic_operations")
    let errorRows = try String(contentsOf: directory.appendingPathComponent("errors.csv"), encoding: .utf8)
      .split(separator: "\n")
    #expect(errorRows.count == 1 + sampleRuns.reduce(0) { $0 + $1.populations.count * 4 })

    // The wide table: one row per run, a number per measured T, in CSV and LaTeX alike.
    let wide = try String(contentsOf: directory.appendingPathComponent("accuracy-wide.csv"), encoding: .utf8)
      .split(separator: "\n").map { csvFields(String($0)) }
    #expect(
      wide[0] == [
        "run", "ann_percent", "t4_percent", "t16_percent", "t64_percent", "t256_percent", "t_within_1pp",
        "t_within_0.1pp",
      ])
    #expect(wide.count == 1 + sampleRuns.count)
    for (row, run) in zip(wide.dropFirst(), sampleRuns) {
      for (k, accuracy) in run.accuracy.enumerated() {
        #expect(abs(Double(row[2 + k])! - accuracy * 100) <= 0.005, "\(row)")
      }
      #expect(abs(Double(row[1])! - run.annAccuracy * 100) <= 0.005)
      #expect(row[6] == (run.timesteps(toWithin: 0.01).map(String.init) ?? ""))
    }
    let tex = try String(contentsOf: directory.appendingPathComponent("accuracy.tex"), encoding: .utf8)
      .split(separator: "\n").map(String.init)
    #expect(tex.contains("\\begin{tabular}{lrrrrrrr}") && tex.last == "\\end{tabular}", "\(tex)")
    let body = tex[(tex.firstIndex(of: "\\midrule")! + 1)..<tex.firstIndex(of: "\\bottomrule")!]
    #expect(body.count == sampleRuns.count)
    for (line, row) in zip(body, wide.dropFirst()) {
      #expect(line.hasSuffix(" \\\\"), "\(line)")
      let cells = line.dropLast(3).components(separatedBy: " & ")
      #expect(cells.count == 8 && cells[0] == row[0], "\(line)")
      #expect(Array(cells[1...5]) == Array(row[1...5]), "\(line) vs \(row)")
      #expect(cells[7] == (row[7].isEmpty ? "--" : row[7]), "\(line)")
    }
  }
}

/// Where Chromium is, if installed.
let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

@Suite(.needsFashionMNIST) struct ReportRenderingTests {
  @Test(
    .enabled(
      if: chromium != nil, "Chromium is not installed (Debian package 'chromium'); skipping the screenshot"))
  func headlessChromiumShowsAPage() throws {
    let directory = try makeTemporaryDirectory("report-render")
    try Report(runs: try sampleRuns).write(to: directory.path)
    let shot = directory.appendingPathComponent("shot.png").path
    let result = try runProcess(
      chromium!,
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1300",
        "--screenshot=\(shot)", directory.appendingPathComponent("index.html").absoluteString,
      ])
    #expect(FileManager.default.fileExists(atPath: shot), "\(result.output)")
    let stats = try runProcess(
      "python3", [repositoryRoot.appendingPathComponent("tools/png_stats.py").path, shot])
    #expect(stats.status == 0, "\(stats.output)")
    let values = try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as! [String: Any]
    // A blank page is one colour; the report has text, grid lines and coloured curves.
    #expect(values["background"] as? String == "ffffff")
    #expect((values["non_background_fraction"] as! Double) > 0.03, "\(values)")
    #expect((values["distinct_colours"] as! Int) > 50, "\(values)")
  }
}

@Suite struct SeriesStyleTests {
  /// Relative luminance (sRGB, as WCAG defines it) of `#rrggbb`.
  func luminance(_ hex: String) -> Double {
    let value = Int(hex.dropFirst(), radix: 16)!
    let channels = [(value >> 16) & 255, (value >> 8) & 255, value & 255].map { channel -> Double in
      let c = Double(channel) / 255
      return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
    }
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
  }

  @Test func stylesStayApartInGreyscale() {
    let styles = SeriesStyle.cycle
    // Every pair differs in dash pattern or marker, so curves differ without any colour at all;
    // the first four (the usual 2 × 2 comparison) also differ in grey level.
    for i in styles.indices {
      for j in styles.indices where j > i {
        #expect(styles[i].dash != styles[j].dash || styles[i].marker != styles[j].marker, "styles \(i), \(j)")
      }
    }
    let grey = styles.prefix(4).map { luminance($0.color) }
    for i in grey.indices {
      for j in grey.indices where j > i {
        #expect(abs(grey[i] - grey[j]) >= 0.05, "styles \(i), \(j): luminance \(grey[i]) and \(grey[j])")
      }
    }
  }
}

@Suite struct RunRecordValidationTests {
  /// A valid record of two measured T and one population, as a JSON object to spoil.
  func valid() -> [String: Any] {
    let series: [Double] = [0.5, 0.25]
    return [
      "settings": [
        "network": "n", "name": "m", "source_model": "m.h5", "source_sha256": "0", "dynamics": ["signgd"],
        "schedules": [["geometric": ["eta0": 0.15, "gamma": 0.95]]], "normalization": "max",
        "granularity": "layer", "fused": false, "calibration_images": 1, "engine": "dense", "input": "analog",
        "data": "d", "batch_size": 1,
      ] as [String: Any],
      "images": 10, "ann_accuracy": 0.9, "seconds": 1.5, "timesteps": [4, 16], "accuracy": [0.5, 0.85],
      "populations": [
        [
          "name": "dense", "op": "relu", "dynamics": "signgd", "neurons": 8, "scale": 1.0,
          "mean_abs_error": series, "mean_relative_error": series, "spikes_per_neuron_per_step": series,
          "synaptic_operations": [10.0, 20.0],
        ] as [String: Any]
      ],
    ]
  }

  /// A raster of one band of the valid record's population (8 neurons), spoilt as asked.
  static func raster(image: Int = 0, steps: Int = 4, shown: [Int] = [3], spikes: String = "+.+.") -> [String:
    Any]
  {
    [
      "image": image, "label": 1, "steps": steps,
      "bands": [
        [
          "population": "dense", "label": "dense", "dynamics": "signgd", "neurons": 8, "shown": shown,
          "spikes": [spikes],
        ] as [String: Any]
      ],
    ]
  }

  @Test func aValidRasterDecodes() throws {
    var object = valid()
    object["raster"] = Self.raster()
    #expect(try decode(object).raster?.bands.first?.spikeCount == 2)
  }

  @Test(
    arguments: [
      (10, 4, [3], "+.+.", "'raster.image' is 10 of 10 images"),
      (0, 4, [3], "+.+", "'raster.bands[0].spikes[0]' is not 4 characters"),
      (0, 4, [8], "+.+.", "'raster.bands[0].shown[0]' is 8, outside 0…7"),
      (0, 1000, [3], "+.+.", "'raster.steps' is 1000, outside 1…256"),
    ])
  func spoiltRastersAreRefused(image: Int, steps: Int, shown: [Int], spikes: String, message: String) {
    var object = valid()
    object["raster"] = Self.raster(image: image, steps: steps, shown: shown, spikes: spikes)
    expectRefused(object, message)
  }

  func decode(_ object: [String: Any]) throws -> RunRecord {
    try RunRecord(json: JSONSerialization.data(withJSONObject: object))
  }

  @Test func aValidRecordDecodes() throws {
    let record = try decode(valid())
    #expect(record.timesteps == [4, 16] && record.populations.count == 1)
  }

  /// Each spoilt record is refused with a message naming the field as the JSON spells it.
  @Test(
    arguments: [
      ("timesteps", [] as [Int], "'timesteps' is empty"),
      ("timesteps", [0, 16], "'timesteps' starts at 0"),
      ("timesteps", [-4, 16], "'timesteps' starts at -4"),
      ("timesteps", [16, 4], "not strictly increasing (16 then 4)"),
      ("timesteps", [4, 4], "not strictly increasing (4 then 4)"),
      ("timesteps", [4, 16, 64], "'accuracy' has 2 values for 3 time steps"),
      ("accuracy", [0.5], "'accuracy' has 1 values for 2 time steps"),
      ("accuracy", [0.5, 1.5], "'accuracy[1]' is 1.5, outside [0, 1]"),
      ("accuracy", [-0.1, 0.5], "'accuracy[0]' is -0.1"),
      ("ann_accuracy", 2.0, "'ann_accuracy' is 2.0"),
      ("images", 0, "'images' is 0"),
      ("seconds", -1.0, "'seconds' is -1.0"),
    ] as [(String, any Sendable, String)])
  func spoiltTopLevelFieldsAreRefused(field: String, value: any Sendable, message: String) throws {
    var object = valid()
    object[field] = value
    expectRefused(object, message)
  }

  @Test(
    arguments: [
      ("neurons", 0 as any Sendable, "'populations[0].neurons' is 0"),
      ("neurons", 1 << 40, "'populations[0].neurons' is 1099511627776, outside 1…268435456"),
      ("mean_abs_error", [0.5], "'populations[0].mean_abs_error' has 1 values for 2 time steps"),
      ("mean_abs_error", [0.5, -1e-300], "'populations[0].mean_abs_error[1]' is -1e-300"),
      ("mean_relative_error", [] as [Double], "'populations[0].mean_relative_error' has 0 values"),
      ("spikes_per_neuron_per_step", [0.5, 0.1, 0.2], "'populations[0].spikes_per_neuron_per_step' has 3"),
      ("synaptic_operations", [-5.0, 1.0], "'populations[0].synaptic_operations[0]' is -5.0"),
    ] as [(String, any Sendable, String)])
  func spoiltPopulationsAreRefused(field: String, value: any Sendable, message: String) throws {
    var object = valid()
    var population = (object["populations"] as! [[String: Any]])[0]
    population[field] = value
    object["populations"] = [population]
    expectRefused(object, message)
  }

  @Test(
    arguments: [
      ("batch_size", 0 as any Sendable, "'settings.batch_size' is 0"),
      ("calibration_images", -3, "'settings.calibration_images' is -3"),
      ("limit", 0, "'settings.limit' is 0"),
      (
        "schedules", [["geometric": ["eta0": 0.15, "gamma": 0.0]]] as [[String: [String: Double]]],
        "'settings.schedules[0]': γ = 0.0"
      ),
      (
        "schedules", [["constant": ["eta": 2.0]]] as [[String: [String: Double]]],
        "'settings.schedules[0]': η = 2.0 is outside (0, 1]"
      ),
    ] as [(String, any Sendable, String)])
  func spoiltSettingsAreRefused(field: String, value: any Sendable, message: String) throws {
    var object = valid()
    var settings = object["settings"] as! [String: Any]
    settings[field] = value
    object["settings"] = settings
    expectRefused(object, message)
  }

  func expectRefused(
    _ object: [String: Any], _ message: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    do {
      _ = try decode(object)
      Issue.record("accepted; expected \(message)", sourceLocation: sourceLocation)
    } catch let error as RunRecordError {
      #expect("\(error)".contains(message), "\(error)", sourceLocation: sourceLocation)
    } catch {
      Issue.record("\(error); expected \(message)", sourceLocation: sourceLocation)
    }
  }
}

/// The smallest positive double, 5e-324 (a subnormal).
let tiny = Double.leastNonzeroMagnitude

@Suite struct PlotExtremesTests {
  /// The numbers of an SVG's coordinates and sizes.
  func numbers(in svg: String) -> [String] {
    let attributes = ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "width", "height", "d"]
    var found = [String]()
    for name in attributes {
      var rest = Substring(svg)
      while let start = rest.range(of: " \(name)=\"") {
        rest = rest[start.upperBound...]
        let end = rest.firstIndex(of: "\"")!
        found += rest[..<end].split(whereSeparator: { "MLZ ".contains($0) }).map(String.init)
        rest = rest[end...]
      }
    }
    return found
  }

  /// Values from the smallest subnormal to the largest double, on log and linear axes, give a
  /// well-formed plot whose every coordinate is a finite number, with a bounded number of ticks.
  @Test(
    arguments: [
      [tiny, 1e308], [tiny, 2 * tiny], [.greatestFiniteMagnitude, 1e300], [1e308, 1e308], [1e17, 1e17 + 16],
      [-1.7e308, 1.7e308], [0, tiny], [1, 1], [-1e-300, 1e-300],
    ] as [[Double]])
  func extremeValuesPlotWithFiniteCoordinates(values: [Double]) throws {
    for scale in [AxisScale.linear, .log] {
      let plot = LinePlot(
        title: "extremes", x: Axis("T", scale: .log), y: Axis("value", scale: scale),
        series: [Series("a", points: values.enumerated().map { (Double($0.offset + 1), $0.element) })],
        references: [ReferenceLine("r", y: values[0])])
      let svg = plot.render()
      #expect(Element.parse(Data(svg.utf8)) != nil)
      let coordinates = numbers(in: svg)
      #expect(!coordinates.isEmpty)
      for text in coordinates {
        #expect(Double(text).map(\.isFinite) == true, "\(scale) \(values): coordinate \(text)")
      }
      let range = LinePlot.range(of: values, axis: plot.y)
      #expect(range.lowerBound < range.upperBound && range.lowerBound.isFinite && range.upperBound.isFinite)
      #expect((1...16).contains(LinePlot.ticks(range, scale).count), "\(scale) \(values): \(range)")
    }
  }
}

@Suite struct ManyTimeStepsTests {
  /// A run measured at every T up to 10⁵ plots as a path bounded by the plot's width, not by
  /// the data: at most four points per half-pixel column, the curve's extremes kept, no markers.
  @Test func aHundredThousandTimeStepsGiveABoundedPlot() throws {
    let count = 100_000
    // A zigzag on a falling trend: every column holds many points of very different heights.
    let points: [(x: Double, y: Double)] = (1...count).map { t in
      let height: Double = t % 2 == 0 ? 2 : 0.5
      return (Double(t), height / Double(t).squareRoot())
    }
    let plot = LinePlot(
      title: "many", x: Axis("T", scale: .log), y: Axis("error", scale: .log),
      series: [Series("a", points: points)])
    let svg = plot.render()
    #expect(svg.utf8.count < 200_000, "\(svg.utf8.count) bytes")
    let parsed = try #require(Element.parse(Data(svg.utf8)))
    let curve = try #require(parsed.elements("g", class: "series").first)
    #expect(curve.all.filter { $0.attributes["class"] == "marker" }.isEmpty)
    let path = try #require(curve.elements("path").first)
    let vertices: [[Double]] = path.attributes["d"]!.split(whereSeparator: { "ML".contains($0) }).map {
      $0.split(separator: " ").map { Double(String($0))! }
    }
    #expect(vertices.count <= 4 * 2 * Int(plot.width))
    // x never goes back; the drawn extremes are those of the data.
    #expect(zip(vertices, vertices.dropFirst()).allSatisfy { $0[0] <= $1[0] })
    let drawn: [(Double, Double)] = LinePlot.thinned(points.map { ($0.x.squareRoot(), -$0.y) })
    let heights = drawn.map { $0.1 }
    let all = points.map { -$0.y }
    #expect(heights.min() == all.min() && heights.max() == all.max())
    #expect(drawn.first!.0 == 1 && drawn.last!.0 == Double(count).squareRoot())
  }
}
