import ArgumentParser
import Conversion
import Datasets
import Distributed
import Foundation
import Pipeline
import Spiking
import ToolSupport

extension SNNConv {
  struct Convert: ParsableCommand, WorkSharing {
    static let configuration = CommandConfiguration(
      abstract: "Convert a Keras HDF5 model into a spiking network file (.snn.h5).",
      discussion: """
        Every elementwise activation becomes a population of neurons with the chosen dynamics. Max pooling \
        becomes a tree of two-input max neurons, LayerNorm and an inner softmax become affine steps plus \
        square/normalize and exp/divide neurons; --fuse keeps each as one population tracking the whole op. \
        --normalize max or pNN.N scales each population by its largest (or percentile) activation on \
        --calibration training images, per layer, channel or neuron (--granularity). --dynamics if makes \
        integrate-and-fire membranes that exchange spikes (ReLU networks; max pooling becomes ReLU neurons), \
        with --reset, --leak and --initial-membrane.
        """)

    @Argument(help: ArgumentHelp("A Keras HDF5 (.h5) or ONNX (.onnx) model file.", valueName: "model"))
    var model: String
    @Option(
      help:
        "Neuronal dynamics: \(Dynamics.allCases.map { "\($0.rawValue) (\($0.model.summary))" }.joined(separator: ", ")) (default: signgd)."
    )
    var dynamics: Dynamics = .signGD
    @Flag(
      help:
        "With --dynamics subgradient: signed integrate-and-fire neurons (ternary spikes), which also represent negative outputs."
    )
    var signed = false
    @Option(
      help: ArgumentHelp(
        "Normalization: none, max, or a percentile such as p99.9 (default: max).", valueName: "none|max|pNN.N"
      ),
      transform: parseNormalization)
    var normalize: Normalization = .max
    @OptionGroup(title: "Conversion") var conversion: ConversionOptions
    @Option(
      name: .long,
      help: ArgumentHelp(
        "Where calibration images come from: 'fashion-mnist', a directory of IDX files (training split), or arrays as for snnsim run --data (default: fashion-mnist).",
        valueName: "source"),
      transform: parseDataSource)
    var data: DataSource = .fashionMNIST
    @OptionGroup(title: "Preprocessing of the calibration images") var preprocessing: PreprocessingOptions
    @Option(
      help: ArgumentHelp(
        "Skip the first K training images: calibration and tuning read the images from K on.", valueName: "K")
    )
    var offset = 0
    @Option(
      help: ArgumentHelp(
        "Tune each population's start, schedule and scale for simulation at T steps, on training images (docs/dynamics.md) (default: not tuned).",
        valueName: "T"))
    var targetTimesteps: Int?
    @Option(
      help: ArgumentHelp(
        "Worker threads for tuning (default: one per core; in a job, the cores shared among the machine's ranks).",
        valueName: "N"))
    var threads: Int?
    @Option(
      name: [.short, .long],
      help: ArgumentHelp("Where to write the spiking network.", valueName: "out.snn.h5"))
    var output: String

    /// The dynamics asked for, `--signed` applied.
    var chosenDynamics: Dynamics { signed ? .signedSubgradient : dynamics }

    func validate() throws {
      if signed && dynamics != .subgradient {
        throw ValidationError(
          "--signed applies to --dynamics subgradient (signed integrate-and-fire neurons)")
      }
      if offset < 0 { throw ValidationError("--offset must not be negative, got \(offset)") }
      try conversion.validateMembrane(dynamics: [chosenDynamics])
      if let targetTimesteps {
        try ToolLimits.check(targetTimesteps, "--target-timesteps", in: 1...(ToolLimits.timesteps / 2))
      }
      try conversion.validateTuning(tuned: targetTimesteps != nil)
      if let threads {
        guard targetTimesteps != nil else {
          throw ValidationError("--threads applies only with --target-timesteps")
        }
        try ToolLimits.check(threads, "--threads", in: 1...ToolLimits.threads)
      }
    }

    func run() throws {
      try prepareOutputs(files: [output], inputs: [model])
      var settings = try conversion.settings(dynamics: chosenDynamics, normalization: normalize)
      settings.targetTimesteps = targetTimesteps
      let started = Date()
      let progress = ProgressLine("tuning for T = \(targetTimesteps.map(String.init) ?? "")")
      let converted = try SourcedNetwork(
        converting: try TrainedModel(path: model), settings: settings, calibrationData: data,
        preprocessing: preprocessing.value, offset: offset,
        threads: threads ?? Communicator.world.defaultThreads,
        sharding: Communicator.world.calibrationSharding, tuningSharding: Communicator.world.sharding,
        progress: { progress.update($0, of: $1) })
      // Every rank has the same network; rank 0 alone writes it.
      guard Communicator.world.isRoot else { return }
      var choices = [String: Tuning.Choice]()
      // The steps the choices' errors were summed over: half, all and twice the kept horizon.
      var horizons = ""
      if let targetTimesteps, let tuning = converted.tuning {
        progress.finish()
        for choice in tuning.choices { choices[choice.population] = choice }
        let aim = tuning.aim ?? targetTimesteps
        horizons = "T = " + Tuning.horizons(aim: aim).map(String.init).joined(separator: "+")
        print(
          "tuned for T = \(targetTimesteps) on \(tuning.images) training images (judged on \(tuning.judgingImages)): \(tuning.simulations) simulations, \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
        )
        for judgement in tuning.judgements {
          let name = judgement.aim.map { "searched for T = \($0)" } ?? "as converted"
          print(
            "  \(name): \(judgement.disagreements) disagreements with the ANN at T and 2T, readout error \(String(format: "%.4g", judgement.readoutError))\(judgement.aim == tuning.aim ? "  (kept)" : "")"
          )
        }
      }
      try converted.write(to: output)
      if let repair = converted.scheduleRepair {
        print(
          "schedule: \(repair.switched) populations from '\(repair.firstAdaptive)' on take a step per neuron (adaptive): under the geometric schedule '\(repair.stalled)' and those after it stalled (\(ConversionWarning.percent(repair.stalledError)) off after \(repair.timesteps) steps on \(repair.images) calibration images); --schedule geometric keeps it everywhere"
        )
      }
      printWarnings(converted.warnings)
      let network = converted.network
      // A decomposed layer's many populations are one line (`snnconv inspect` lists them all).
      for entry in PopulationGroups.entries(network.populations.map(\.node)) {
        let spec = network.populations[entry.representative]
        let largest = entry.members.map { network.populations[$0].scale }.max()!
        var line =
          "\(entry.label)  \(network.graph.node(spec.node)?.op.kind ?? "")  \(spec.dynamics.rawValue)  λ \(spec.scales.count > 1 || entry.members.count > 1 ? "≤" : "=") \(String(format: "%.4g", largest))"
        if let choice = choices[spec.node] {
          line +=
            "  \(spec.dynamics.model.defaultSchedule == nil ? spec.parameters.spelled : "\(spec.schedule)")  v₀ \(choice.start.rawValue)  \(choice.scalesPerNeuron ? "λ per neuron " : "")λ×\(choice.scaleFactor)\(choice.inputCorrected ? "  input corrected" : "")  error at \(horizons) \(String(format: "%.4g", choice.errorBefore)) → \(String(format: "%.4g", choice.errorAfter))"
        }
        print(line)
      }
      print(
        "wrote \(output): \(network.populations.count) populations, normalization \(network.normalization)\(network.normalization == .none ? "" : " per \(network.granularity.rawValue)")"
      )
    }
  }
}
