import Foundation
import Testing

@testable import ToolSupport

/// The progress line redraws over itself cleanly and says how long is left at the pace so far.
@Suite struct ProgressLineTests {
  @Test func lineShowsTheTimeLeftAndErasesWhatALongerLineLeft() {
    let start = Date(timeIntervalSince1970: 1000)
    let line = ProgressLine("simulating", enabled: true, started: start)
    // A quarter done after 30 s: 90 s to go.
    let text = line.line(25, of: 100, detail: "step 3/8", at: start.addingTimeInterval(30))
    #expect(text.hasPrefix("\rsimulating "))
    #expect(text.contains(" 25/100  step 3/8  ETA 1m30s"), "\(text)")
    #expect(text.hasSuffix("\u{1B}[K"))
    #expect(text.filter { $0 == "█" }.count == 7 && text.filter { $0 == "░" }.count == 23)
    // Nothing done yet, or everything: no estimate.
    #expect(!line.line(0, of: 100, detail: "", at: start.addingTimeInterval(5)).contains("ETA"))
    #expect(!line.line(100, of: 100, detail: "", at: start.addingTimeInterval(5)).contains("ETA"))
  }

  @Test func durationsReadAsSecondsMinutesOrHours() {
    #expect(ProgressLine.duration(0.2) == "1s")
    #expect(ProgressLine.duration(59) == "59s")
    #expect(ProgressLine.duration(185) == "3m05s")
    #expect(ProgressLine.duration(7620) == "2h07m")
  }
}
