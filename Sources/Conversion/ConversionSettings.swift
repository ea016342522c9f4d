import Graph
import Spiking
import Tensor

/// Why a network cannot be converted.
public enum ConversionError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The op has no spiking neuron.
  case unsupportedOp(node: String, op: String)
  /// The op has no neuron of the chosen dynamics (membrane neurons compute ReLU and capped ReLU only).
  case unsupportedByDynamics(node: String, op: String, dynamics: Dynamics)
  /// Settings that do not go together.
  case conflictingSettings(String)

  public var description: String {
    switch self {
    case .unsupportedOp(let node, let op):
      return
        "'\(node)' (\(op)) has no spiking neuron; supported: elementwise activations, two-input functions, max pooling, LayerNorm and softmax"
    case .unsupportedByDynamics(let node, let op, let dynamics):
      return
        "'\(node)' (\(op)) has no \(dynamics.rawValue) neuron: membrane integrate-and-fire neurons compute ReLU and capped ReLU such as ReLU6 (and max pooling, as ReLU neurons); convert with --dynamics subgradient, signgd or subgradient --signed"
    case .conflictingSettings(let detail):
      return detail
    }
  }
}

/// Everything that decides how a trained network becomes a spiking one (docs/dynamics.md):
/// what `snnconv convert` and `snnsim compare` take on their command lines.
public struct ConversionSettings: Sendable, Hashable, Codable {
  public var dynamics: Dynamics
  /// The step schedule of every population; nil uses the dynamics' default.
  public var schedule: StepSchedule?
  public var normalization: Normalization
  /// How many neurons share one λ.
  public var granularity: Granularity
  /// How many training images calibrate the normalization (unused for `.none`).
  public var calibrationImages: Int
  /// Keep max pooling, LayerNorm and inner softmax whole, as one population each whose neurons
  /// track the composite op of their input estimates, instead of decomposing them into affine
  /// steps and one- and two-input neurons (``GraphPasses/decompose(_:)``).
  public var fuse: Bool
  /// Tune the populations for simulation at this many time steps (``Tuning``); nil converts
  /// with the defaults.
  public var targetTimesteps: Int?
  /// How many training images tuning simulates.
  public var tuningImages: Int
  /// The neuron model's own settings (``NeuronModel/parameters``: a membrane's reset and leak, a
  /// burst neuron's bits …); those left out take the model's defaults.
  public var neuron: NeuronParameters
  /// Where membrane neurons start, as a fraction of the threshold (0: at rest).
  public var initialMembrane: Double
  /// Whether tuning corrects each population's mean error by shifting its input
  /// (``PopulationSpec/offsets``); off for a network whose offsets NIR could not hold.
  public var correctsInputs: Bool

  /// Where membrane neurons start unless told: half-way to the threshold. Started at rest, a
  /// neuron's spike count truncates its summed input (it lags by up to one spike, always
  /// downward, and the lags add up along the layers); started at θ/2 it rounds it, the error half a
  /// spike either way and zero on average — the initialization Bu et al. (*Optimized potential
  /// initialization for low-latency spiking neural networks*, AAAI 2022) derive. On the deep test
  /// networks it is what brings membrane conversions within 1 pp of their ANN at T = 256
  /// (docs/spiking.md). NIR states no starting membrane: export writes it as metadata and warns.
  public static let defaultInitialMembrane = 0.5

  /// Training images tuning simulates unless told otherwise.
  public static let defaultTuningImages = 256

  /// How many training images tuning judges whole networks on (``Tuning``): the tuning images
  /// and as many again three times over, so that one image is a smaller step of agreement than in
  /// the population searches (judging a whole network costs a few simulations, a search hundreds
  /// of candidates).
  public var judgingImages: Int { 4 * tuningImages }

  public init(
    dynamics: Dynamics = .signGD, schedule: StepSchedule? = nil, normalization: Normalization = .max,
    granularity: Granularity = .channel, calibrationImages: Int = 1000, fuse: Bool = false,
    targetTimesteps: Int? = nil, tuningImages: Int = ConversionSettings.defaultTuningImages,
    neuron: NeuronParameters = NeuronParameters(),
    initialMembrane: Double = ConversionSettings.defaultInitialMembrane, correctsInputs: Bool = true
  ) {
    self.correctsInputs = correctsInputs
    self.neuron = neuron
    self.initialMembrane = initialMembrane
    self.dynamics = dynamics
    self.schedule = schedule
    self.normalization = normalization
    self.granularity = granularity
    self.calibrationImages = calibrationImages
    self.fuse = fuse
    self.targetTimesteps = targetTimesteps
    self.tuningImages = tuningImages
  }

  /// Whether the normalization needs calibration images.
  public var needsCalibration: Bool { normalization != .none }

  /// Whether stalled populations get a step per neuron (``ScheduleRepair``): under signGD with
  /// the default schedule, untuned (a chosen schedule or a tuned one is left as it is).
  public var repairsStalledPopulations: Bool {
    dynamics.model.acceptsPerNeuronSchedule && schedule == nil && targetTimesteps == nil
  }

  /// How many training images the conversion reads: for the normalization's calibration and for
  /// tuning, whichever needs more (0: none).
  public var trainingImagesNeeded: Int {
    max(needsCalibration ? calibrationImages : 0, targetTimesteps != nil ? judgingImages : 0)
  }
}

extension SpikingNetwork {
  /// Converts `graph`: removes Dropout, folds BatchNorm into the layer before it, decomposes
  /// composite layers (unless `settings.fuse`), gives every non-affine node a population and,
  /// with data-based normalization, its scales from `calibration`.
  /// - Parameter calibration: images for data-based normalization; without them the network is
  ///   unnormalized (λ = 1) whatever `settings.normalization` says.
  /// - Throws: ``ConversionError`` for an op without a neuron; `GraphError` when the
  ///   calibration images do not fit the input.
  /// - Parameter sharding: how calibration is spread over the processes of a job.
  public init(
    converting graph: Graph, settings: ConversionSettings, calibration: Tensor<Float>?,
    sharding: CalibrationSharding = .alone
  ) throws {
    let images = calibration.map { $0.rows(0..<min(settings.calibrationImages, $0.shape[0])) }
    try self.init(converting: graph, untunedWith: settings, calibration: images, sharding: sharding)
  }

  /// Converts `graph` as ``init(converting:settings:calibration:)`` does and, when
  /// `settings.targetTimesteps` is set, tunes it (``Tuning/tune(_:images:judging:timesteps:aims:finerScales:correctInputs:threads:sharding:recordingBudget:progress:)``)
  /// on the first `settings.tuningImages` of `images`, judging whole networks on the first
  /// `settings.judgingImages`.
  /// - Parameter images: training images, at least as many as the calibration and the tuning use
  ///   (``ConversionSettings/trainingImagesNeeded``); nil when neither needs any.
  /// - Returns: the network and, when tuned, what tuning chose.
  public static func converting(
    _ graph: Graph, settings: ConversionSettings, images: Tensor<Float>?, threads: Int? = nil,
    sharding: CalibrationSharding = .alone, tuningSharding: Sharding = .alone,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> (network: SpikingNetwork, tuning: Tuning.Outcome?) {
    let network = try SpikingNetwork(
      converting: graph, settings: settings, calibration: settings.needsCalibration ? images : nil,
      sharding: sharding)
    guard let target = settings.targetTimesteps, let images else { return (network, nil) }
    // Tuning may give a population one λ per neuron, calibrated on the same images the same way.
    var finer: [String: [Double]]?
    if network.normalization != .none, network.granularity != .neuron {
      finer = try Calibration.scales(
        network.graph, images.rows(0..<min(settings.calibrationImages, images.shape[0])),
        network.normalization,
        .neuron, sharding: sharding)
    }
    let outcome = try Tuning.tune(
      network, images: images.rows(0..<min(settings.tuningImages, images.shape[0])),
      judging: images.rows(0..<min(settings.judgingImages, images.shape[0])), timesteps: target,
      finerScales: finer, correctInputs: settings.correctsInputs,
      threads: threads, sharding: tuningSharding, progress: progress)
    return (outcome.network, outcome)
  }

  private init(
    converting graph: Graph, untunedWith settings: ConversionSettings, calibration: Tensor<Float>?,
    sharding: CalibrationSharding = .alone
  ) throws {
    let membrane = settings.dynamics.model.hasMembrane
    if membrane && settings.fuse {
      throw ConversionError.conflictingSettings(
        "fused composite layers have no membrane integrate-and-fire form: drop --fuse or choose other dynamics"
      )
    }
    var converted = try GraphPasses.removeDropout(graph)
    converted = try GraphPasses.expandTransposedConvolutions(converted)
    converted = try GraphPasses.foldBatchNorm(converted)
    converted = try GraphPasses.foldConstantAffine(converted)
    if !settings.fuse { converted = try GraphPasses.decompose(converted) }
    if membrane { converted = try GraphPasses.maximaAsReLU(converted) }
    var readout = converted.outputs[0]
    if let last = converted.node(readout), last.op == .softmax { readout = last.inputs[0] }
    let normalization = settings.normalization
    let calibrated = normalization != .none && calibration != nil
    var scales = [String: [Double]]()
    if calibrated, let calibration {
      scales = try Calibration.scales(
        converted, calibration, normalization, settings.granularity, sharding: sharding)
    }
    var populations = [PopulationSpec]()
    for node in converted.nodes where !node.op.isAffine {
      if node.name == converted.outputs[0] && node.op == .softmax { continue }
      guard let target = NeuronTarget(populating: node.op) else {
        throw ConversionError.unsupportedOp(node: node.name, op: node.op.kind)
      }
      if !settings.dynamics.model.approximates(target) {
        throw ConversionError.unsupportedByDynamics(
          node: node.name, op: node.op.kind, dynamics: settings.dynamics)
      }
      var populationScales = scales[node.name] ?? [1]
      if let largest = settings.dynamics.model.largestScale(for: target) {
        populationScales = populationScales.map { min($0, largest) }
      }
      populations.append(
        PopulationSpec(
          node: node.name, target: target, dynamics: settings.dynamics,
          schedule: settings.schedule ?? settings.dynamics.defaultSchedule, scales: populationScales,
          initial: [membrane ? settings.initialMembrane : 0],
          parameters: settings.neuron.resolved(for: settings.dynamics)))
    }
    try self.init(
      graph: converted, populations: populations, readout: readout,
      normalization: calibrated ? normalization : .none,
      granularity: calibrated ? settings.granularity : .layer,
      calibrationImages: calibrated ? calibration?.shape.first ?? 0 : 0)
  }

  /// Converts `graph` with the settings spelled out (see ``init(converting:settings:calibration:)``).
  public init(
    _ graph: Graph, dynamics: Dynamics, schedule: StepSchedule? = nil, normalization: Normalization = .none,
    granularity: Granularity = .channel, calibration: Tensor<Float>? = nil, fuse: Bool = false
  ) throws {
    try self.init(
      converting: graph,
      settings: ConversionSettings(
        dynamics: dynamics, schedule: schedule, normalization: normalization, granularity: granularity,
        calibrationImages: calibration?.shape.first ?? 0, fuse: fuse),
      calibration: calibration)
  }
}
