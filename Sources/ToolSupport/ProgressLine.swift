import Conversion
import Foundation

/// A one-line progress bar on standard error, drawn only when standard error is a terminal
/// (so logs and pipes stay clean). Redraws at most ten times a second.
public final class ProgressLine: @unchecked Sendable {
  private let label: String
  private let enabled: Bool
  private var lastDraw = Date.distantPast
  private let width = 30

  public init(_ label: String, enabled: Bool = isatty(STDERR_FILENO) == 1) {
    self.label = label
    self.enabled = enabled
  }

  /// Shows `done` of `total`; the last call (done == total) always draws.
  public func update(_ done: Int, of total: Int, detail: String = "") {
    guard enabled else { return }
    let now = Date()
    guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
    lastDraw = now
    let fraction = total == 0 ? 1 : Double(done) / Double(total)
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
    let text = "\r\(label) \(bar) \(done)/\(total)" + (detail.isEmpty ? "" : "  \(detail)")
    FileHandle.standardError.write(Data(text.utf8))
  }

  /// Clears the line.
  public func finish() {
    guard enabled else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
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
