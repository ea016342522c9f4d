import ArgumentParser
import ToolSupport

@main
struct SNNConv: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "snnconv",
    abstract: "Convert trained ANNs (Keras HDF5) into spiking neural networks, and export them to NIR.",
    version: ToolkitVersion.string)
}
