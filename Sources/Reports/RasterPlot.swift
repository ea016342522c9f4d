import Foundation
import Spiking

/// A spike raster as SVG: time steps across, one row per shown neuron, the rows of each
/// population in a band labelled with the population and how many of its neurons are shown.
/// A spike is a short vertical mark; a negative spike (signed integrate-and-fire) is red.
public struct RasterPlot: Sendable {
  public var title: String
  public var raster: SpikeRaster
  public var width = 760.0

  public init(title: String, raster: SpikeRaster) {
    self.title = title
    self.raster = raster
  }

  /// Colours of positive and negative spikes.
  static let positiveColor = "#1f4e9a"
  static let negativeColor = "#c0392b"

  /// Row height in pixels: the raster's rows share about 360 pixels, each between 1.5 and 6.
  var rowHeight: Double {
    let rows = raster.bands.reduce(0) { $0 + $1.shown.count }
    return min(max(360 / Double(max(rows, 1)), 1.5), 6)
  }

  /// Pixels between bands, and the margins around the plot area but the left one.
  static let bandGap = 8.0
  static let margin = (right: 16.0, top: 40.0, bottom: 46.0)

  /// The left margin: room for the longest band label (shortened), at about 6.8 px a character
  /// at 12 px, between 110 and 270 pixels.
  var leftMargin: Double {
    let longest = raster.bands.map { Self.shortened($0.label).count }.max() ?? 0
    return min(max(Double(longest) * 6.8 + 16, 110), 270)
  }

  public var height: Double {
    let rows = Double(raster.bands.reduce(0) { $0 + $1.shown.count })
    let gaps = Double(max(raster.bands.count - 1, 0)) * Self.bandGap
    return Self.margin.top + max(rows * rowHeight + gaps, 20) + Self.margin.bottom
  }

  /// The SVG document.
  public func render() -> String {
    let m = (left: leftMargin, right: Self.margin.right, top: Self.margin.top, bottom: Self.margin.bottom)
    let plotWidth = width - m.left - m.right
    let height = self.height
    let steps = Double(max(raster.steps, 1))
    let stepWidth = plotWidth / steps
    // A mark is most of a step wide, but always visible.
    let markWidth = max(stepWidth * 0.7, 0.6)
    let row = rowHeight
    func x(_ step: Int) -> Double { m.left + (Double(step) - 0.5) * stepWidth }
    var svg = svgOpening(width: width, height: height, title: title)
    let bottom = height - m.bottom
    svg += "<g class=\"x-axis\">\n"
    for tick in LinePlot.ticks(1...steps, .linear) where tick >= 1 {
      svg += verticalGridLine(at: x(Int(tick)), top: m.top, bottom: bottom, label: Axis.compact(tick))
    }
    svg += "<text class=\"axis-label\" x=\"\(f(m.left + plotWidth / 2))\" y=\"\(f(height - 12))\" "
    svg += "text-anchor=\"middle\">time step t</text>\n</g>\n"
    var top = m.top
    for (index, band) in raster.bands.enumerated() {
      let bandHeight = Double(band.shown.count) * row
      svg += "<g class=\"band\" data-population=\"\(escapeXML(band.population))\">\n"
      if index % 2 == 1 {
        svg +=
          "<rect x=\"\(f(m.left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(bandHeight))\" "
        svg += "fill=\"#f4f4f4\"/>\n"
      }
      let middle = top + bandHeight / 2
      svg +=
        "<text class=\"band-label\" x=\"\(f(m.left - 8))\" y=\"\(f(middle + (bandHeight >= 26 ? -2 : 4)))\" "
      svg += "text-anchor=\"end\">\(escapeXML(Self.shortened(band.label)))</text>\n"
      if bandHeight >= 26 {
        svg +=
          "<text class=\"band-count\" x=\"\(f(m.left - 8))\" y=\"\(f(middle + 11))\" text-anchor=\"end\" "
        svg += "font-size=\"10\" fill=\"#666666\">\(band.shown.count) of \(band.neurons) neurons</text>\n"
      }
      // One path per sign: a mark `M x y v h` per spike.
      var positive = ""
      var negative = ""
      for (r, spikes) in band.spikes.enumerated() {
        let y = top + Double(r) * row + row * 0.1
        for (t, character) in spikes.utf8.enumerated() where character != UInt8(ascii: ".") {
          let mark = "M\(f(x(t + 1))) \(f(y))v\(f(row * 0.8))"
          if character == UInt8(ascii: "-") { negative += mark } else { positive += mark }
        }
      }
      for (d, color) in [(positive, Self.positiveColor), (negative, Self.negativeColor)] where !d.isEmpty {
        svg += "<path class=\"spikes\" d=\"\(d)\" stroke=\"\(color)\" stroke-width=\"\(f(markWidth))\"/>\n"
      }
      svg += "</g>\n"
      top += bandHeight + Self.bandGap
    }
    svg += "<rect class=\"frame\" x=\"\(f(m.left))\" y=\"\(f(m.top))\" width=\"\(f(plotWidth))\" "
    svg += "height=\"\(f(bottom - m.top))\" fill=\"none\" stroke=\"#333333\"/>\n"
    if raster.bands.contains(where: { $0.spikes.contains { $0.contains("-") } }) {
      svg += "<text class=\"legend\" x=\"\(f(width - m.right))\" y=\"\(f(height - 12))\" text-anchor=\"end\" "
      svg += "font-size=\"11\"><tspan fill=\"\(Self.positiveColor)\">| spike</tspan> "
      svg += "<tspan fill=\"\(Self.negativeColor)\">| negative spike</tspan></text>\n"
    }
    return svg + "</svg>\n"
  }

  /// A label cut to at most 38 characters, keeping its end (where a decomposition's step is named).
  static func shortened(_ label: String) -> String {
    label.count <= 38 ? label : "…" + String(label.suffix(37))
  }
}
