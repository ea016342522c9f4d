import Foundation

/// How an axis maps values to positions.
public enum AxisScale: Sendable, Hashable {
  case linear
  /// Base-10 logarithmic; non-positive values are left out of the plot.
  case log
}

/// One axis of a plot: its label, scale, and optionally a fixed range.
public struct Axis: Sendable, Hashable {
  public var label: String
  public var scale: AxisScale
  /// Fixed bounds; nil fits the data.
  public var range: ClosedRange<Double>?
  /// Fixed tick positions (such as the simulated time steps); nil chooses them.
  public var ticks: [Double]?
  /// Formats tick values (default: compact decimal).
  public var format: @Sendable (Double) -> String

  public init(
    _ label: String, scale: AxisScale = .linear, range: ClosedRange<Double>? = nil, ticks: [Double]? = nil,
    format: @escaping @Sendable (Double) -> String = Axis.compact
  ) {
    self.label = label
    self.scale = scale
    self.range = range
    self.ticks = ticks
    self.format = format
  }

  public static func == (a: Axis, b: Axis) -> Bool {
    a.label == b.label && a.scale == b.scale && a.range == b.range && a.ticks == b.ticks
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(label)
    hasher.combine(scale)
    hasher.combine(range)
    hasher.combine(ticks)
  }

  /// `1`, `0.5`, `1e-4`, `256` — the shortest readable form.
  public static let compact: @Sendable (Double) -> String = { value in
    if value == 0 { return "0" }
    let magnitude = abs(value)
    if magnitude >= 1e-3 && magnitude < 1e5 {
      var text = String(format: "%.4g", value)
      if text.contains("e") { text = String(format: "%.0f", value) }
      return text
    }
    let exponent = Int(floor(log10(magnitude)))
    let mantissa = value / pow(10, Double(exponent))
    return abs(mantissa - 1) < 1e-9 ? "1e\(exponent)" : String(format: "%.2ge%d", mantissa, exponent)
  }
}

/// One curve: labelled points, drawn as a line with markers.
public struct Series: Sendable, Hashable {
  public var label: String
  public var points: [(x: Double, y: Double)]

  public init(_ label: String, points: [(x: Double, y: Double)]) {
    self.label = label
    self.points = points
  }

  public static func == (a: Series, b: Series) -> Bool {
    a.label == b.label && a.points.elementsEqual(b.points) { $0.x == $1.x && $0.y == $1.y }
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(label)
    for point in points {
      hasher.combine(point.x)
      hasher.combine(point.y)
    }
  }
}

/// A horizontal reference line (an ANN's accuracy, a target).
public struct ReferenceLine: Sendable, Hashable {
  public var label: String
  public var y: Double
  public init(_ label: String, y: Double) {
    self.label = label
    self.y = y
  }
}

/// How the n-th series is drawn. Colours differ in lightness as well as hue, and each style
/// also has its own dash pattern and marker, so curves stay apart in greyscale print.
public struct SeriesStyle: Sendable, Hashable {
  public let color: String
  public let dash: String?
  public let marker: Marker

  public enum Marker: String, Sendable, Hashable, CaseIterable {
    case circle, square, triangle, diamond, cross, plus
  }

  /// Eight styles: a colour-blind-safe palette ordered so neighbours differ in lightness.
  public static let cycle: [SeriesStyle] = [
    SeriesStyle(color: "#0b3d91", dash: nil, marker: .circle),
    SeriesStyle(color: "#e69f00", dash: "6 3", marker: .square),
    SeriesStyle(color: "#009e73", dash: "2 2", marker: .triangle),
    SeriesStyle(color: "#cc3311", dash: "8 3 2 3", marker: .diamond),
    SeriesStyle(color: "#56b4e9", dash: nil, marker: .cross),
    SeriesStyle(color: "#4d4d4d", dash: "4 4", marker: .plus),
    SeriesStyle(color: "#aa3377", dash: "1 3", marker: .circle),
    SeriesStyle(color: "#999933", dash: "10 4", marker: .square),
  ]

  public static func at(_ index: Int) -> SeriesStyle { cycle[index % cycle.count] }
}

/// A line plot rendered as standalone SVG: axes with ticks and labels, linear or log scales,
/// one styled curve per series, dashed reference lines and a legend. No scripts, no external
/// fonts or files.
public struct LinePlot: Sendable {
  public var title: String
  public var x: Axis
  public var y: Axis
  public var series: [Series]
  public var references: [ReferenceLine]
  public var width = 640.0
  public var height = 400.0

  public init(title: String, x: Axis, y: Axis, series: [Series], references: [ReferenceLine] = []) {
    self.title = title
    self.x = x
    self.y = y
    self.series = series
    self.references = references
  }

  /// The plot area's margins: left for tick labels and the y label, bottom for the x label, right
  /// for the legend.
  private var margin: (left: Double, right: Double, top: Double, bottom: Double) {
    let longest = series.map(\.label.count).max() ?? 0
    let legend = series.isEmpty ? 20 : min(Double(longest) * 6.6 + 48, width * 0.4)
    return (70, legend, 36, 52)
  }

  /// The SVG document.
  public func render() -> String {
    let m = margin
    let plot = (x: m.left, y: m.top, width: width - m.left - m.right, height: height - m.top - m.bottom)
    let xValues = series.flatMap { $0.points.map(\.x) }
    let yValues = series.flatMap { $0.points.map(\.y) } + references.map(\.y)
    let xRange = Self.range(of: xValues, axis: x)
    let yRange = Self.range(of: yValues, axis: y)
    func position(_ value: Double, _ range: ClosedRange<Double>, _ scale: AxisScale) -> Double {
      let (v, lo, hi) =
        scale == .log
        ? (log10(value), log10(range.lowerBound), log10(range.upperBound))
        : (value, range.lowerBound, range.upperBound)
      return hi == lo ? 0.5 : (v - lo) / (hi - lo)
    }
    func px(_ value: Double) -> Double { plot.x + position(value, xRange, x.scale) * plot.width }
    func py(_ value: Double) -> Double { plot.y + (1 - position(value, yRange, y.scale)) * plot.height }
    func visible(_ value: Double, _ scale: AxisScale) -> Bool {
      value.isFinite && (scale == .linear || value > 0)
    }

    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" \
      viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="12" role="img">
      <title>\(escapeXML(title))</title>
      <rect class="background" x="0" y="0" width="\(f(width))" height="\(f(height))" fill="#ffffff"/>
      <text class="plot-title" x="\(f(width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\
      \(escapeXML(title))</text>

      """
    // Grid and ticks.
    svg += "<g class=\"x-axis\">\n"
    for tick in x.ticks?.filter({ xRange.contains($0) }) ?? Self.ticks(xRange, x.scale) {
      let p = px(tick)
      svg +=
        "<line class=\"grid\" x1=\"\(f(p))\" y1=\"\(f(plot.y))\" x2=\"\(f(p))\" y2=\"\(f(plot.y + plot.height))\" "
      svg += "stroke=\"#e4e4e4\"/>\n"
      svg +=
        "<text class=\"tick\" x=\"\(f(p))\" y=\"\(f(plot.y + plot.height + 16))\" text-anchor=\"middle\">"
      svg += "\(escapeXML(x.format(tick)))</text>\n"
    }
    svg += "<text class=\"axis-label\" x=\"\(f(plot.x + plot.width / 2))\" y=\"\(f(height - 12))\" "
    svg += "text-anchor=\"middle\">\(escapeXML(x.label))</text>\n</g>\n<g class=\"y-axis\">\n"
    for tick in y.ticks?.filter({ yRange.contains($0) }) ?? Self.ticks(yRange, y.scale) {
      let p = py(tick)
      svg +=
        "<line class=\"grid\" x1=\"\(f(plot.x))\" y1=\"\(f(p))\" x2=\"\(f(plot.x + plot.width))\" y2=\"\(f(p))\" "
      svg += "stroke=\"#e4e4e4\"/>\n"
      svg += "<text class=\"tick\" x=\"\(f(plot.x - 6))\" y=\"\(f(p + 4))\" text-anchor=\"end\">"
      svg += "\(escapeXML(y.format(tick)))</text>\n"
    }
    svg += "<text class=\"axis-label\" x=\"16\" y=\"\(f(plot.y + plot.height / 2))\" text-anchor=\"middle\" "
    svg += "transform=\"rotate(-90 16 \(f(plot.y + plot.height / 2)))\">\(escapeXML(y.label))</text>\n</g>\n"
    svg += "<rect class=\"frame\" x=\"\(f(plot.x))\" y=\"\(f(plot.y))\" width=\"\(f(plot.width))\" "
    svg += "height=\"\(f(plot.height))\" fill=\"none\" stroke=\"#333333\"/>\n"
    // Reference lines.
    for reference in references where visible(reference.y, y.scale) {
      let p = py(reference.y)
      svg +=
        "<g class=\"reference\"><line x1=\"\(f(plot.x))\" y1=\"\(f(p))\" x2=\"\(f(plot.x + plot.width))\" "
      svg += "y2=\"\(f(p))\" stroke=\"#000000\" stroke-width=\"1\" stroke-dasharray=\"3 3\"/>"
      svg +=
        "<text x=\"\(f(plot.x + 4))\" y=\"\(f(p - 4))\" font-size=\"11\">\(escapeXML(reference.label))</text></g>\n"
    }
    // Curves.
    for (index, item) in series.enumerated() {
      let style = SeriesStyle.at(index)
      let points = item.points.filter { visible($0.x, x.scale) && visible($0.y, y.scale) }
      guard !points.isEmpty else { continue }
      let d = points.enumerated().map {
        "\($0.offset == 0 ? "M" : "L")\(f(px($0.element.x))) \(f(py($0.element.y)))"
      }
      svg += "<g class=\"series\" data-label=\"\(escapeXML(item.label))\">\n"
      svg +=
        "<path d=\"\(d.joined(separator: " "))\" fill=\"none\" stroke=\"\(style.color)\" stroke-width=\"2\""
      if let dash = style.dash { svg += " stroke-dasharray=\"\(dash)\"" }
      svg += "/>\n"
      for point in points { svg += Self.marker(style, at: (px(point.x), py(point.y))) + "\n" }
      svg += "</g>\n"
    }
    // Legend.
    if !series.isEmpty {
      let left = plot.x + plot.width + 12
      svg += "<g class=\"legend\">\n"
      for (index, item) in series.enumerated() {
        let style = SeriesStyle.at(index)
        let top = plot.y + 8 + Double(index) * 20
        svg +=
          "<g class=\"legend-entry\"><line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left + 28))\" y2=\"\(f(top))\" "
        svg += "stroke=\"\(style.color)\" stroke-width=\"2\""
        if let dash = style.dash { svg += " stroke-dasharray=\"\(dash)\"" }
        svg += "/>" + Self.marker(style, at: (left + 14, top))
        svg += "<text x=\"\(f(left + 34))\" y=\"\(f(top + 4))\">\(escapeXML(item.label))</text></g>\n"
      }
      svg += "</g>\n"
    }
    return svg + "</svg>\n"
  }

  /// The data range, padded a little on linear axes and widened to whole decades on log axes.
  static func range(of values: [Double], axis: Axis) -> ClosedRange<Double> {
    if let fixed = axis.range { return fixed }
    let usable = values.filter { $0.isFinite && (axis.scale == .linear || $0 > 0) }
    guard var lo = usable.min(), var hi = usable.max() else { return axis.scale == .log ? 1...10 : 0...1 }
    switch axis.scale {
    case .log:
      lo = pow(10, floor(log10(lo)))
      hi = pow(10, ceil(log10(hi)))
      if lo == hi { hi = lo * 10 }
    case .linear:
      if lo == hi {
        lo -= 0.5
        hi += 0.5
      }
      let pad = (hi - lo) * 0.05
      lo -= pad
      hi += pad
    }
    return lo...hi
  }

  /// Tick positions: powers of ten on log axes (with 2 and 5 between when the axis spans fewer
  /// than three decades), 1–2–5 steps on linear axes.
  static func ticks(_ range: ClosedRange<Double>, _ scale: AxisScale) -> [Double] {
    switch scale {
    case .log:
      let first = Int(floor(log10(range.lowerBound)))
      let last = Int(ceil(log10(range.upperBound)))
      var ticks = [Double]()
      for exponent in first...last {
        let base = pow(10, Double(exponent))
        let steps: [Double] = last - first < 3 ? [1, 2, 5] : [1]
        for step in steps where range.contains(base * step) { ticks.append(base * step) }
      }
      return ticks
    case .linear:
      let span = range.upperBound - range.lowerBound
      guard span > 0 else { return [range.lowerBound] }
      let raw = span / 6
      let magnitude = pow(10, floor(log10(raw)))
      let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
      var tick = ceil(range.lowerBound / step) * step
      var ticks = [Double]()
      while tick <= range.upperBound + step * 1e-9 {
        ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
        tick += step
      }
      return ticks
    }
  }

  static func marker(_ style: SeriesStyle, at point: (Double, Double)) -> String {
    let (x, y) = point
    let r = 3.5
    let stroke = "stroke=\"\(style.color)\" stroke-width=\"1.5\""
    switch style.marker {
    case .circle:
      return "<circle class=\"marker\" cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" fill=\"\(style.color)\"/>"
    case .square:
      return
        "<rect class=\"marker\" x=\"\(f(x - r))\" y=\"\(f(y - r))\" width=\"\(f(2 * r))\" height=\"\(f(2 * r))\" fill=\"#ffffff\" \(stroke)/>"
    case .triangle:
      return
        "<path class=\"marker\" d=\"M\(f(x)) \(f(y - r - 1)) L\(f(x + r + 1)) \(f(y + r)) L\(f(x - r - 1)) \(f(y + r)) Z\" fill=\"\(style.color)\"/>"
    case .diamond:
      return
        "<path class=\"marker\" d=\"M\(f(x)) \(f(y - r - 1)) L\(f(x + r + 1)) \(f(y)) L\(f(x)) \(f(y + r + 1)) L\(f(x - r - 1)) \(f(y)) Z\" fill=\"#ffffff\" \(stroke)/>"
    case .cross:
      return
        "<path class=\"marker\" d=\"M\(f(x - r)) \(f(y - r)) L\(f(x + r)) \(f(y + r)) M\(f(x - r)) \(f(y + r)) L\(f(x + r)) \(f(y - r))\" \(stroke)/>"
    case .plus:
      return
        "<path class=\"marker\" d=\"M\(f(x - r - 1)) \(f(y)) L\(f(x + r + 1)) \(f(y)) M\(f(x)) \(f(y - r - 1)) L\(f(x)) \(f(y + r + 1))\" \(stroke)/>"
    }
  }
}

/// A coordinate with two decimals (enough at screen resolution, and short).
func f(_ value: Double) -> String { String(format: "%.2f", value) }

/// Text made safe for XML and HTML content and attribute values.
public func escapeXML(_ text: String) -> String {
  var out = ""
  out.reserveCapacity(text.count)
  for character in text {
    switch character {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.append(character)
    }
  }
  return out
}
