import ArgumentParser
import Datasets
import Foundation
import Graph
import ModelIO
import Spiking
import ToolSupport

extension Dynamics: ExpressibleByArgument {}
extension Granularity: ExpressibleByArgument {}

extension SNNConv {
  struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a Keras HDF5 model into a spiking network file (.snn.h5).",
      discussion: """
        Every elementwise activation becomes a population of neurons with the chosen dynamics. Max pooling \
        becomes a tree of two-input max neurons, LayerNorm and an inner softmax become affine steps plus \
        square/normalize and exp/divide neurons; --fuse keeps each as one population tracking the whole op. \
        --normalize max or pNN.N scales each population by its largest (or percentile) activation on \
        --calibration training images, per layer, channel or neuron (--granularity).
        """)

    enum ScheduleName: String, ExpressibleByArgument, CaseIterable { case inverse, geometric, constant }

    @Argument(help: ArgumentHelp("A Keras HDF5 model file.", valueName: "model.h5")) var model: String
    @Option(help: "Neuronal dynamics.") var dynamics: Dynamics = .signGD
    @Option(help: "Step schedule (default: inverse for subgradient, geometric for signgd).") var schedule:
      ScheduleName?
    @Option(help: "First step size η₀ (geometric, constant).") var eta0 = 0.15
    @Option(help: "Decay γ per step (geometric).") var gamma = 0.95
    @Option(
      help: ArgumentHelp(
        "Normalization: none, max, or a percentile such as p99.9.", valueName: "none|max|pNN.N"),
      transform: { text in
        guard let value = Normalization(text) else {
          throw ValidationError("--normalize must be none, max or pNN.N (e.g. p99.9), got '\(text)'")
        }
        return value
      })
    var normalize: Normalization = .max
    @Option(help: "Share one normalization scale per layer, per channel or per neuron.")
    var granularity: Granularity = .layer
    @Flag(
      help: "Keep max pooling, LayerNorm and inner softmax as fused populations instead of decomposing them.")
    var fuse = false
    @Option(help: ArgumentHelp("Training images used to calibrate the normalization.", valueName: "N"))
    var calibration = 1000
    @Option(
      name: .long,
      help: ArgumentHelp(
        "Where calibration images come from: 'fashion-mnist' or a directory of IDX files (training split).",
        valueName: "source"),
      transform: parseDataSource)
    var data: DataSource = .fashionMNIST
    @Option(
      name: [.short, .long],
      help: ArgumentHelp("Where to write the spiking network.", valueName: "out.snn.h5"))
    var output: String

    func validate() throws {
      guard calibration > 0 else {
        throw ValidationError("--calibration must be positive, got \(calibration)")
      }
      guard eta0 > 0, eta0.isFinite else { throw ValidationError("--eta0 must be positive, got \(eta0)") }
      guard gamma > 0, gamma <= 1 else { throw ValidationError("--gamma must be in (0, 1], got \(gamma)") }
    }

    func run() throws {
      let graph = try KerasModelReader.read(model)
      let chosen: StepSchedule? =
        switch schedule {
        case nil: nil
        case .inverse: .inverse
        case .geometric: .geometric(eta0: eta0, gamma: gamma)
        case .constant: .constant(eta: eta0)
        }
      let images =
        normalize == .none ? nil : try data.load(.train, limit: calibration).images
      let network = try SpikingNetwork(
        graph, dynamics: dynamics, schedule: chosen, normalization: normalize, granularity: granularity,
        calibration: images, fuse: fuse)
      let provenance = SNNFile.Provenance(
        sourceModel: model, sourceSHA256: try SHA256.hex(ofFile: model), toolkitVersion: ToolkitVersion.string
      )
      try SNNFile.write(network, provenance: provenance, to: output)
      for spec in network.populations {
        print(
          "\(spec.node)  \(network.graph.node(spec.node)?.op.kind ?? "")  \(spec.dynamics.rawValue)  λ = \(String(format: "%.4g", spec.scale))"
        )
      }
      print(
        "wrote \(output): \(network.populations.count) populations, normalization \(network.normalization)")
    }
  }
}
