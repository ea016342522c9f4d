import ArgumentParser
import ToolSupport

@main
struct SNNSim: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snnsim",
    abstract:
      "Simulate converted spiking networks step by step and report how well they approximate the ANN.",
    version: ToolkitVersion.string)
}
