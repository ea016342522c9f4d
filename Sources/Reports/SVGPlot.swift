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
      // Halves keep the differences finite across the whole range of doubles.
      let (v, lo, hi) =
        scale == .log
        ? (log10(value), log10(range.lowerBound), log10(range.upperBound))
        : (value / 2, range.lowerBound / 2, range.upperBound / 2)
      let fraction = hi == lo ? 0.5 : (v - lo) / (hi - lo)
      // A point far outside a fixed range is drawn just outside the frame, not kilometres away.
      return fraction.isNaN ? 0.5 : min(max(fraction, -0.1), 1.1)
    }
    func px(_ value: Double) -> Double { plot.x + position(value, xRange, x.scale) * plot.width }
    func py(_ value: Double) -> Double { plot.y + (1 - position(value, yRange, y.scale)) * plot.height }
    func visible(_ value: Double, _ scale: AxisScale) -> Bool {
      value.isFinite && (scale == .linear || value > 0)
    }

    var svg = svgOpening(width: width, height: height, title: title)
    // Grid and ticks.
    svg += "<g class=\"x-axis\">\n"
    for tick in x.ticks?.filter({ xRange.contains($0) }) ?? Self.ticks(xRange, x.scale) {
      svg += verticalGridLine(at: px(tick), top: plot.y, bottom: plot.y + plot.height, label: x.format(tick))
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
      let drawn = Self.thinned(points.map { (px($0.x), py($0.y)) })
      let d = drawn.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(f($0.element.0)) \(f($0.element.1))" }
      svg += "<g class=\"series\" data-label=\"\(escapeXML(item.label))\">\n"
      svg +=
        "<path d=\"\(d.joined(separator: " "))\" fill=\"none\" stroke=\"\(style.color)\" stroke-width=\"2\""
      if let dash = style.dash { svg += " stroke-dasharray=\"\(dash)\"" }
      svg += "/>\n"
      if points.count <= Self.maximumMarkers {
        for point in points { svg += Self.marker(style, at: (px(point.x), py(point.y))) + "\n" }
      }
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

  /// Series with more points than this are drawn without markers, which would merge into a band.
  static let maximumMarkers = 100

  /// A polyline's points (in drawing coordinates) reduced to what can be seen: within each
  /// half-pixel column of consecutive points, the first, lowest, highest and last, in their
  /// order. The drawn envelope is unchanged, and the size is bounded by the plot's width however
  /// many points (time steps) the data has.
  static func thinned(_ points: [(Double, Double)]) -> [(Double, Double)] {
    guard points.count > 4 else { return points }
    var kept = [(Double, Double)]()
    var start = 0
    while start < points.count {
      let column = (points[start].0 * 2).rounded(.down)
      var end = start + 1
      while end < points.count && (points[end].0 * 2).rounded(.down) == column { end += 1 }
      var low = start
      var high = start
      for k in start..<end {
        if points[k].1 < points[low].1 { low = k }
        if points[k].1 > points[high].1 { high = k }
      }
      for k in Set([start, low, high, end - 1]).sorted() { kept.append(points[k]) }
      start = end
    }
    return kept
  }

  /// The data range, padded a little on linear axes and widened to whole decades on log axes.
  /// Any finite values give a finite range of positive width (from 5e-324 to 1.8e308).
  static func range(of values: [Double], axis: Axis) -> ClosedRange<Double> {
    if let fixed = axis.range { return fixed }
    let usable = values.filter { $0.isFinite && (axis.scale == .linear || $0 > 0) }
    guard var lo = usable.min(), var hi = usable.max() else { return axis.scale == .log ? 1...10 : 0...1 }
    switch axis.scale {
    case .log:
      let first = min(decade(lo, rounding: .down), maximumDecade - 1)
      let last = max(decade(hi, rounding: .up), first + 1)
      lo = pow(10, Double(first))
      hi = pow(10, Double(last))
    case .linear:
      if lo == hi {
        // Half a unit either side, or 5 % of the value where a unit is below its precision.
        let widen = max(0.5, abs(lo) * 0.05)
        lo -= widen
        hi += widen
      }
      let pad = (hi / 2 - lo / 2) * 0.1
      lo = max(lo - pad, -.greatestFiniteMagnitude)
      hi = min(hi + pad, .greatestFiniteMagnitude)
    }
    return lo...hi
  }

  /// The decades a log axis can show: 1e-323 (the smallest power of ten a double holds) to 1e308.
  static let minimumDecade = -323
  static let maximumDecade = 308

  /// The power of ten at or below (`.down`) or at or above (`.up`) a value, as its exponent,
  /// within the decades a double holds; non-positive values give the smallest.
  static func decade(_ value: Double, rounding: FloatingPointRoundingRule) -> Int {
    guard value > 0 else { return minimumDecade }
    let exponent = log10(value).rounded(rounding)
    return Int(min(max(exponent, Double(minimumDecade)), Double(maximumDecade)))
  }

  /// Tick positions: powers of ten on log axes (with 2 and 5 between when the axis spans fewer
  /// than three decades, and only every n-th decade when it spans more than twelve), 1–2–5
  /// steps on linear axes. Never more than about a dozen.
  static func ticks(_ range: ClosedRange<Double>, _ scale: AxisScale) -> [Double] {
    switch scale {
    case .log:
      let first = decade(range.lowerBound, rounding: .down)
      let last = decade(range.upperBound, rounding: .up)
      let every = max(1, (last - first + 11) / 12)
      var ticks = [Double]()
      for exponent in stride(from: first, through: last, by: every) {
        let base = pow(10, Double(exponent))
        let steps: [Double] = last - first < 3 ? [1, 2, 5] : [1]
        for step in steps where range.contains(base * step) { ticks.append(base * step) }
      }
      return ticks
    case .linear:
      let (lo, hi) = (range.lowerBound, range.upperBound)
      guard lo.isFinite && hi.isFinite else { return [] }
      // A sixth of the span, computed from halves so that it cannot overflow.
      let raw = (hi / 2 - lo / 2) / 3
      guard raw > 0 else { return [lo] }
      guard raw.isNormal else { return [lo, hi] }
      let magnitude = pow(10, floor(log10(raw)))
      let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
      let start = ceil(lo / step)
      var ticks = [Double]()
      // Counted, not accumulated: adding a step to a large tick may not change it.
      for k in 0..<16 {
        let tick = (start + Double(k)) * step
        guard tick.isFinite, tick <= hi + step * 1e-9 else { break }
        let value = abs(tick) < step * 1e-9 ? 0 : tick
        if ticks.last != value { ticks.append(value) }
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

/// The start of every plot's SVG document: the root element, its title, a white background and
/// the title drawn at the top.
func svgOpening(width: Double, height: Double, title: String) -> String {
  """
  <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" \
  viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="12" role="img">
  <title>\(escapeXML(title))</title>
  <rect class="background" x="0" y="0" width="\(f(width))" height="\(f(height))" fill="#ffffff"/>
  <text class="plot-title" x="\(f(width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\
  \(escapeXML(title))</text>

  """
}

/// A grid line down the plot area at `x` with its tick label below it.
func verticalGridLine(at x: Double, top: Double, bottom: Double, label: String) -> String {
  "<line class=\"grid\" x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\" stroke=\"#e4e4e4\"/>\n"
    + "<text class=\"tick\" x=\"\(f(x))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\">\(escapeXML(label))</text>\n"
}

/// A coordinate with two decimals (enough at screen resolution, and short), written without
/// `String(format:)`, which costs microseconds a call.
func f(_ value: Double) -> String {
  let hundredths = (value * 100).rounded()
  guard hundredths.magnitude < 1e15 else { return String(format: "%.2f", value) }
  let whole = Int(hundredths)
  let fraction = whole.magnitude % 100
  return "\(whole < 0 ? "-" : "")\(whole.magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Text made safe for XML and HTML content and attribute values.
public func escapeXML(_ text: String) -> String {
  text.replacing(["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"])
}

extension String {
  /// The text with each character found in `replacements` written as its replacement.
  func replacing(_ replacements: [Character: String]) -> String {
    var out = ""
    out.reserveCapacity(count)
    for character in self {
      if let replacement = replacements[character] { out += replacement } else { out.append(character) }
    }
    return out
  }
}
