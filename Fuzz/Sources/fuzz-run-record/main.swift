import Foundation
import FuzzSupport
import Reports
import Results

// Fuzzes the run-record reader and everything a report does with a record it accepted: each
// input is decoded as the JSON `snnsim run --results` writes; a record that decodes is rendered
// into every plot and table of a report, alone and beside itself.

runFuzzer { input in
  guard let record = try? RunRecord(json: input) else { return }
  for report in [Report(runs: [record]), Report(runs: [record, record])] {
    for (_, plot) in report.plots() { _ = plot.render() }
    _ = report.convergenceTable()
    _ = report.activityTable()
    _ = report.settingsTable()
  }
}
