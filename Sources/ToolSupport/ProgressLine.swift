import Conversion
import Foundation

/// A one-line progress bar on standard error, drawn only when standard error is a terminal
/// (so logs and pipes stay clean). Redraws at most ten times a second, each time over the whole
/// line, with the time left at the pace so far.
public final class ProgressLine: @unchecked Sendable {
  private let label: String
  private let enabled: Bool
  private var lastDraw = Date.distantPast
  /// When the current round began: the line's creation, or the last time the count went back
  /// (a new epoch of training, say), so that the time left is that of the round being drawn.
  private var started: Date
  private var lastDone = 0
  static let width = 30

  public init(_ label: String, enabled: Bool = isatty(STDERR_FILENO) == 1, started: Date = Date()) {
    self.label = label
    self.enabled = enabled
    self.started = started
  }

  /// Shows `done` of `total`; the last call (done == total) always draws.
  public func update(_ done: Int, of total: Int, detail: String = "") {
    guard enabled else { return }
    let now = Date()
    if done < lastDone { started = now }
    lastDone = done
    guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
    lastDraw = now
    FileHandle.standardError.write(Data(line(done, of: total, detail: detail, at: now).utf8))
  }

  /// What ``update(_:of:detail:)`` draws at `now`: back to the line's start, the bar, the count,
  /// the detail, the time left once something is done, and an erase of whatever a longer
  /// earlier line left to the right.
  func line(_ done: Int, of total: Int, detail: String, at now: Date) -> String {
    let fraction = total == 0 ? 1 : min(max(Double(done) / Double(total), 0), 1)
    let filled = Int(fraction * Double(Self.width))
    let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: Self.width - filled)
    var text = "\r\(label) \(bar) \(done)/\(total)" + (detail.isEmpty ? "" : "  \(detail)")
    let elapsed = now.timeIntervalSince(started)
    if done > 0 && done < total && elapsed > 0 {
      text += "  ETA \(Self.duration(elapsed / Double(done) * Double(total - done)))"
    }
    return text + "\u{1B}[K"
  }

  /// `42s`, `3m05s`, `2h07m`.
  static func duration(_ seconds: Double) -> String {
    let whole = Int(seconds.rounded(.up))
    if whole < 60 { return "\(whole)s" }
    if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
    return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60)
  }

  /// Clears the line.
  public func finish() {
    guard enabled else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
  }
}

/// Prints `value` as JSON on standard output: snake_case keys, sorted, indented, slashes as they
/// are (paths stay readable) — the form of every JSON the tools print.
public func printJSON(_ value: some Encodable) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  encoder.keyEncodingStrategy = .convertToSnakeCase
  printFlushed(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints a message about the work (a file written, an epoch done): on standard output, or with
/// `--json` (`aside`) on standard error, so that standard output holds the JSON alone.
public func printMessage(_ line: String, aside: Bool) {
  if aside {
    FileHandle.standardError.write(Data((line + "\n").utf8))
  } else {
    printFlushed(line)
  }
}

/// Prints a line and flushes standard output at once, so logs written to a file or pipe show
/// progress as it happens rather than when the buffer fills.
public func printFlushed(_ line: String) {
  print(line)
  fflush(nil)
}

extension ProgressLine {
  /// A simulation's progress callback drawn on this line: images done of the total, and the
  /// step reached in the current batch of `steps`.
  public func simulation(steps: Int) -> (Int, Int, Int) -> Void {
    { done, total, step in self.update(done, of: total, detail: step > 0 ? "step \(step)/\(steps)" : "") }
  }
}

/// Prints each conversion warning on standard error as `warning: [context: ]text`, so that they
/// reach a terminal even when standard output goes to a file.
public func printWarnings(_ warnings: [ConversionWarning], for context: String? = nil) {
  // On a terminal, first clear a progress line that may be drawn there.
  let clear = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[K" : ""
  for warning in warnings {
    let line = clear + "warning: " + (context.map { "\($0): " } ?? "") + "\(warning)\n"
    FileHandle.standardError.write(Data(line.utf8))
  }
}
