import Tensor

/// A population of spiking neurons, one per output element, all running the same dynamics on
/// the same target function, for a batch of inputs at once.
///
/// Each neuron keeps `v`, its estimate of `g(x̂)/λ` (λ the neuron's normalization scale; 1
/// without normalization), and communicates one spike per step. Within a step the order is:
/// read the input estimate `x̂_t` → compute the spike from `v_{t−1}` → update `v_t` → emit
/// `λ · v_t` as the output estimate. Symbols as in ``Dynamics``.
///
/// A membrane population (``Dynamics/integrateAndFire``) instead keeps each neuron's membrane
/// potential `u` in ``estimates`` (in units of λ), reads the input current `I_t`, and emits
/// `λ·s_t`: the spike, not an estimate.
///
/// - Complexity: O(neurons) per step, no allocation.
public struct Population<Scalar: TensorScalar>: Sendable {
  public let dynamics: Dynamics
  public let schedule: StepSchedule
  public let target: NeuronTarget
  /// The normalization scales λ: one for the whole population, or one per position of the
  /// innermost `scales.count` elements of a sample (per channel or per neuron). Neuron `i` uses
  /// `scales[i % scales.count]`; it works on `g/λ` and emits `λ·v`.
  public let scales: [Scalar]
  /// `v_0`, the estimates every neuron starts from (in units of λ, like `v`): one for the whole
  /// population, or one per position of the innermost `initial.count` elements of a sample.
  public let initial: [Scalar]
  /// `v` for every neuron of every batch element (the membrane potential `u` of a membrane
  /// population).
  public private(set) var estimates: [Scalar]
  /// The model's own settings (``NeuronModel/parameters``).
  public let parameters: NeuronParameters
  /// Added to the input before the neurons read it (the first operand of a one-input target),
  /// one value for the whole population or one per position of the innermost `offsets.count`
  /// elements of a sample; empty for none (``PopulationSpec/offsets``).
  public let offsets: [Scalar]
  /// The shifted input of the current step, when there are ``offsets`` (allocated at the first
  /// step, then reused).
  private var shiftedInput: [Scalar] = []
  /// Spikes emitted so far, summed over neurons and steps.
  public private(set) var spikeCount = 0
  /// The last step taken (0 before the first).
  public private(set) var step = 0
  /// `1/λ` per entry of ``scales``.
  private let inverseScales: [Scalar]
  /// ``scales`` and their inverses repeated into longer rows (up to 4,096 neurons, a divisor of
  /// the population's size), which the update loops run over: per-channel scales give rows of a
  /// few dozen neurons, too short for the loops to pay for themselves. Neuron `i` still gets
  /// `scales[i % scales.count]`.
  private let rowScales: [Scalar]
  private let rowInverses: [Scalar]
  /// `g(x̂_t)` of the current step, when the caller gives no workspace (allocated at the first
  /// such step, then reused).
  private var goals: [Scalar] = []
  /// Per neuron under an ``StepSchedule/adaptive(eta0:gamma:)`` schedule: the step it took
  /// last, negative after a spike (empty until the first step).
  private var lastSteps: [Scalar] = []

  /// - Parameters:
  ///   - scales: λ, one or per inner position (see ``scales``); each positive and finite.
  ///   - initial: `v_0`, one or per inner position (see ``initial``); each finite.
  ///   - count: neurons × batch size, a multiple of `scales.count` and of `initial.count`.
  ///   - parameters: the model's own settings (a membrane's reset and leak …); those left out
  ///     take the model's defaults.
  ///   - offsets: added to the input, one or per inner position (see ``offsets``), each finite;
  ///     one-input targets only. Empty for none.
  public init(
    dynamics: Dynamics, schedule: StepSchedule? = nil, target: NeuronTarget, scales: [Scalar] = [1],
    initial: [Scalar] = [0], count: Int, parameters: NeuronParameters = NeuronParameters(),
    offsets: [Scalar] = []
  ) {
    let problem = parameters.problem(for: dynamics)
    precondition(problem == nil, problem ?? "")
    self.parameters = parameters.completed(for: dynamics)
    precondition(
      !scales.isEmpty && scales.allSatisfy { $0 > 0 && $0.isFinite },
      "population scales must be positive and finite")
    precondition(count % scales.count == 0, "\(count) neurons do not divide into \(scales.count) scales")
    precondition(
      !initial.isEmpty && initial.allSatisfy(\.isFinite) && count % initial.count == 0,
      "\(initial.count) initial estimates for \(count) neurons")
    precondition(
      offsets.isEmpty || (offsets.allSatisfy(\.isFinite) && count % offsets.count == 0 && target.arity == 1),
      "\(offsets.count) input offsets for \(count) neurons of a \(target.arity)-input target")
    self.offsets = offsets
    self.initial = initial
    self.dynamics = dynamics
    self.schedule = schedule ?? dynamics.defaultSchedule
    self.target = target
    self.scales = scales
    inverseScales = scales.map { 1 / $0 }
    var repeats = 1
    if scales.count > 1 {
      let rows = count / scales.count
      repeats = max(1, min(rows, 4096 / scales.count))
      while rows % repeats != 0 { repeats -= 1 }
    }
    rowScales = Array([[Scalar]](repeating: scales, count: repeats).joined())
    rowInverses = Array([[Scalar]](repeating: inverseScales, count: repeats).joined())
    estimates = Self.repeated(initial, count: count)
  }

  /// `pattern` repeated to `count` values (`count` a multiple of its length).
  static func repeated(_ pattern: [Scalar], count: Int) -> [Scalar] {
    pattern.count == 1
      ? [Scalar](repeating: pattern[0], count: count)
      : Array([[Scalar]](repeating: pattern, count: count / pattern.count).joined())
  }

  /// Writes what the population publishes before its first step, one per neuron: `λ·v_0`, or
  /// no spikes (0) for a membrane population.
  public func publishInitial(into output: UnsafeMutableBufferPointer<Scalar>) {
    precondition(
      output.count == estimates.count, "population of \(estimates.count) publishing \(output.count)")
    if dynamics.sendsSpikes { return output.update(repeating: 0) }
    for i in 0..<output.count { output[i] = scales[i % scales.count] * initial[i % initial.count] }
  }

  /// The population `spec` describes, for `count` neurons (its node's neurons × batch size).
  public init(_ spec: PopulationSpec, count: Int) {
    self.init(
      dynamics: spec.dynamics, schedule: spec.schedule, target: spec.target,
      scales: spec.scales.map { Scalar($0) }, initial: spec.initial.map { Scalar($0) }, count: count,
      parameters: spec.parameters, offsets: spec.offsets.map { Scalar($0) })
  }

  /// A population with one scale λ for every neuron.
  public init(
    dynamics: Dynamics, schedule: StepSchedule? = nil, target: NeuronTarget, scale: Scalar, count: Int
  ) {
    self.init(dynamics: dynamics, schedule: schedule, target: target, scales: [scale], count: count)
  }

  /// Starts over: `v = v_0`, no spikes, step 0.
  public mutating func reset() {
    lastSteps = []
    for i in estimates.indices { estimates[i] = initial[i % initial.count] }
    spikeCount = 0
    step = 0
  }

  /// Advances one time step.
  /// - Parameters:
  ///   - first: the input estimates `x̂_t` (first operand), one per neuron.
  ///   - second: the second operand for two-input targets (ignored otherwise).
  ///   - output: receives `λ · v_t`, one per neuron.
  ///   - spikes: if given, receives `s_t` (0 or 1) per neuron.
  ///   - weightedSpikes: if given, receives `η_t·λ·s_t` per neuron — the spike's share of the
  ///     integrate-and-fire update `λv_t = (1 − η_t)·λv_{t−1} + η_t·λs_t`, what a receiver that
  ///     follows spikes adds — written by the update loop itself (no separate target pass).
  ///   - workspace: at least one value per neuron of scratch for the targets, so that
  ///     populations stepped one after another can share it; nil uses the population's own.
  ///     Unused (and may be empty) when ``evaluatesTargetSeparately(spikes:)`` is false.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public mutating func advance(
    first: UnsafeBufferPointer<Scalar>, second: UnsafeBufferPointer<Scalar>? = nil,
    output: UnsafeMutableBufferPointer<Scalar>, spikes: UnsafeMutableBufferPointer<Scalar>? = nil,
    weightedSpikes: UnsafeMutableBufferPointer<Scalar>? = nil,
    workspace: UnsafeMutableBufferPointer<Scalar>? = nil
  ) {
    precondition(
      first.count == estimates.count && output.count == estimates.count,
      "population of \(estimates.count) fed \(first.count)")
    precondition(
      weightedSpikes.map { $0.count >= estimates.count && spikes == nil } ?? true,
      "weighted spikes need one value per neuron and no 0/1 spike output")
    precondition(
      target.arity == 1 || second?.count == estimates.count, "two-input population needs a second operand")
    guard !offsets.isEmpty else {
      return advanceUnshifted(
        first: first, second: second, output: output, spikes: spikes, weightedSpikes: weightedSpikes,
        workspace: workspace)
    }
    var shifted = shiftedInput
    shiftedInput = []
    defer { shiftedInput = shifted }
    if shifted.count != first.count { shifted = [Scalar](repeating: 0, count: first.count) }
    let offsets = self.offsets
    let width = offsets.count
    shifted.withUnsafeMutableBufferPointer { x in
      offsets.withUnsafeBufferPointer { b in
        for row in stride(from: 0, to: first.count, by: width) {
          for j in 0..<width { x[row + j] = first[row + j] + b[j] }
        }
      }
    }
    shifted.withUnsafeBufferPointer { x in
      advanceUnshifted(
        first: x, second: second, output: output, spikes: spikes, weightedSpikes: weightedSpikes,
        workspace: workspace)
    }
  }

  /// ``advance(first:second:output:spikes:weightedSpikes:workspace:)`` on an input already
  /// shifted by ``offsets``.
  @inline(__always)
  private mutating func advanceUnshifted(
    first: UnsafeBufferPointer<Scalar>, second: UnsafeBufferPointer<Scalar>?,
    output: UnsafeMutableBufferPointer<Scalar>, spikes: UnsafeMutableBufferPointer<Scalar>?,
    weightedSpikes: UnsafeMutableBufferPointer<Scalar>?, workspace: UnsafeMutableBufferPointer<Scalar>?
  ) {
    step += 1
    if case .adaptive(let eta0, let gamma) = schedule {
      precondition(dynamics == .signGD, "per-neuron steps are for signGD neurons")
      if goals.count != estimates.count { goals = [Scalar](repeating: 0, count: estimates.count) }
      if lastSteps.count != estimates.count {
        lastSteps = [Scalar](repeating: Scalar(eta0), count: estimates.count)
      }
      let target = self.target
      goals.withUnsafeMutableBufferPointer { target.evaluate(first, second ?? first, into: $0) }
      spikeCount &+= SignGradientDescent.stepAdaptive(
        Scalar(gamma), goals, &estimates, &lastSteps, rowScales, rowInverses, output, spikes)
      return
    }
    let eta = Scalar(schedule.eta(step))
    let dynamics = self.dynamics
    let scales = rowScales
    let inverseScales = rowInverses
    let fired: Int
    // One case per model that steps in a loop of its own; the rate models share the dispatch
    // on targets below.
    switch dynamics {
    case .integrateAndFire:
      // The membrane integrates the current itself: its threshold, not a target, makes the ReLU.
      let membrane = MembraneIntegrateAndFire.Membrane(parameters)
      let tau = membrane.leak.map { Scalar($0) }
      fired = estimates.withUnsafeMutableBufferPointer { u in
        if let spikes {
          return MembraneIntegrateAndFire.step(
            StoreZeroOneSpikes.self, membrane.reset, tau, first, u, scales, inverseScales, output,
            spikes.baseAddress!)
        }
        if let weightedSpikes {
          return MembraneIntegrateAndFire.step(
            StoreSpikes.self, membrane.reset, tau, first, u, scales, inverseScales, output,
            weightedSpikes.baseAddress!)
        }
        return MembraneIntegrateAndFire.step(
          DiscardSpikes.self, membrane.reset, tau, first, u, scales, inverseScales, output,
          output.baseAddress!)
      }
    case .burst:
      fired = estimates.withUnsafeMutableBufferPointer { u in
        if let spikes {
          return BurstIntegrateAndFire.step(
            StoreZeroOneSpikes.self, parameters, first, u, scales, inverseScales, output, spikes.baseAddress!)
        }
        if let weightedSpikes {
          return BurstIntegrateAndFire.step(
            StoreSpikes.self, parameters, first, u, scales, inverseScales, output, weightedSpikes.baseAddress!
          )
        }
        return BurstIntegrateAndFire.step(
          DiscardSpikes.self, parameters, first, u, scales, inverseScales, output, output.baseAddress!)
      }
    case .subgradient, .signGD, .signedSubgradient:
      fired = rateStep(eta, first, second, output, spikes, weightedSpikes, workspace)
    }
    spikeCount &+= fired
  }

  /// One step of a rate model (one whose neurons update an estimate toward a target).
  @inline(__always)
  private mutating func rateStep(
    _ eta: Scalar, _ first: UnsafeBufferPointer<Scalar>, _ second: UnsafeBufferPointer<Scalar>?,
    _ output: UnsafeMutableBufferPointer<Scalar>, _ spikes: UnsafeMutableBufferPointer<Scalar>?,
    _ weightedSpikes: UnsafeMutableBufferPointer<Scalar>?, _ workspace: UnsafeMutableBufferPointer<Scalar>?
  ) -> Int {
    let (dynamics, target, scales, inverseScales) = (self.dynamics, self.target, rowScales, rowInverses)
    let fired: Int
    if !evaluatesTargetSeparately(spikes: spikes != nil) {
      fired = Self.stepNeurons(
        dynamics, target, eta, first, second ?? first, UnsafeMutableBufferPointer(start: nil, count: 0),
        &estimates, scales, inverseScales, output, spikes, weightedSpikes)
    } else if let workspace {
      precondition(
        workspace.count >= estimates.count, "workspace of \(workspace.count) for \(estimates.count)")
      fired = Self.stepNeurons(
        dynamics, target, eta, first, second ?? first,
        UnsafeMutableBufferPointer(rebasing: workspace[0..<estimates.count]),
        &estimates, scales, inverseScales, output, spikes, weightedSpikes)
    } else {
      if goals.count != estimates.count { goals = [Scalar](repeating: 0, count: estimates.count) }
      fired = goals.withUnsafeMutableBufferPointer { goal in
        Self.stepNeurons(
          dynamics, target, eta, first, second ?? first, goal, &estimates, scales, inverseScales, output,
          spikes, weightedSpikes)
      }
    }
    return fired
  }
}

extension Population {
  /// Whether a step evaluates the target into a workspace before the update loop: always when
  /// spikes are written out, and for every target the update loop does not compute itself
  /// (all but ReLU, identity and max).
  public func evaluatesTargetSeparately(spikes: Bool) -> Bool {
    Self.evaluatesTargetSeparately(target, spikes: spikes)
  }

  static func evaluatesTargetSeparately(_ target: NeuronTarget, spikes: Bool) -> Bool {
    if spikes { return true }
    switch target {
    case .unary(.relu), .unary(.identity), .binary(.maximum): return false
    default: return true
    }
  }

  /// One step for every neuron. Without spike output, ReLU, identity and max targets are
  /// computed inside the update loop (one pass over memory); other targets are evaluated into
  /// `goal` first and the same loop reads them from there. Returns the spikes.
  @inline(__always)
  static func stepNeurons(
    _ dynamics: Dynamics, _ target: NeuronTarget, _ eta: Scalar, _ first: UnsafeBufferPointer<Scalar>,
    _ second: UnsafeBufferPointer<Scalar>, _ goal: UnsafeMutableBufferPointer<Scalar>,
    _ estimates: inout [Scalar],
    _ scales: [Scalar], _ inverseScales: [Scalar], _ output: UnsafeMutableBufferPointer<Scalar>,
    _ spikes: UnsafeMutableBufferPointer<Scalar>?, _ weighted: UnsafeMutableBufferPointer<Scalar>? = nil
  ) -> Int {
    // The dispatch below and evaluatesTargetSeparately must agree: a goal is only given where
    // the target is evaluated into it.
    precondition(
      !evaluatesTargetSeparately(target, spikes: spikes != nil) || goal.count >= estimates.count,
      "no workspace for a target evaluated separately")
    return estimates.withUnsafeMutableBufferPointer { v in
      scales.withUnsafeBufferPointer { lambda in
        inverseScales.withUnsafeBufferPointer { inverse in
          if let spikes {
            target.evaluate(first, second, into: goal)
            let goals = UnsafeBufferPointer(goal)
            return update(
              FusedIdentity.self, StoreZeroOneSpikes.self, dynamics, eta, goals, goals, v, lambda, inverse,
              output,
              spikes.baseAddress!)
          }
          if let weighted {
            return update(
              StoreSpikes.self, target, goal, dynamics, eta, first, second, v, lambda, inverse, output,
              weighted.baseAddress!)
          }
          return update(
            DiscardSpikes.self, target, goal, dynamics, eta, first, second, v, lambda, inverse, output,
            output.baseAddress!)
        }
      }
    }
  }
}

extension Population {
  /// The target dispatch of a step without 0/1 spike output: ReLU, identity and max inside the
  /// update loop, the others evaluated into `goal` first.
  @inline(__always)
  static func update<S: SpikeSink>(
    _ sink: S.Type, _ target: NeuronTarget, _ goal: UnsafeMutableBufferPointer<Scalar>, _ dynamics: Dynamics,
    _ eta: Scalar, _ first: UnsafeBufferPointer<Scalar>, _ second: UnsafeBufferPointer<Scalar>,
    _ v: UnsafeMutableBufferPointer<Scalar>, _ lambda: UnsafeBufferPointer<Scalar>,
    _ inverse: UnsafeBufferPointer<Scalar>, _ output: UnsafeMutableBufferPointer<Scalar>,
    _ weighted: UnsafeMutablePointer<Scalar>
  ) -> Int {
    switch target {
    case .unary(.relu):
      return update(
        FusedReLU.self, S.self, dynamics, eta, first, second, v, lambda, inverse, output, weighted)
    case .unary(.identity):
      return update(
        FusedIdentity.self, S.self, dynamics, eta, first, second, v, lambda, inverse, output, weighted)
    case .binary(.maximum):
      return update(
        FusedMaximum.self, S.self, dynamics, eta, first, second, v, lambda, inverse, output, weighted)
    default:
      target.evaluate(first, second, into: goal)
      let goals = UnsafeBufferPointer(goal)
      return update(
        FusedIdentity.self, S.self, dynamics, eta, goals, goals, v, lambda, inverse, output, weighted)
    }
  }
}

/// Where the update loop puts each neuron's spike: nowhere, `η_t·λ·s_t`, or `s_t` (0 or 1; −1,
/// 0 or 1 for the signed neuron). A type parameter rather than an optional, so that each loop is
/// compiled without a branch on it.
protocol SpikeSink {
  static func store<Scalar: TensorScalar>(
    _ fires: Bool, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>)
  static func store<Scalar: TensorScalar>(
    signed spike: Scalar, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>)
}

enum DiscardSpikes: SpikeSink {
  @inline(__always)
  static func store<Scalar: TensorScalar>(
    _ fires: Bool, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>
  ) {}
  @inline(__always)
  static func store<Scalar: TensorScalar>(
    signed spike: Scalar, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>
  ) {}
}

enum StoreSpikes: SpikeSink {
  @inline(__always)
  static func store<Scalar: TensorScalar>(
    _ fires: Bool, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>
  ) {
    buffer[i] = fires ? weight : 0
  }
  @inline(__always)
  static func store<Scalar: TensorScalar>(
    signed spike: Scalar, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>
  ) {
    buffer[i] = spike * weight
  }
}

enum StoreZeroOneSpikes: SpikeSink {
  @inline(__always)
  static func store<Scalar: TensorScalar>(
    _ fires: Bool, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>
  ) {
    buffer[i] = fires ? 1 : 0
  }
  @inline(__always)
  static func store<Scalar: TensorScalar>(
    signed spike: Scalar, weight: Scalar, at i: Int, in buffer: UnsafeMutablePointer<Scalar>
  ) {
    buffer[i] = spike
  }
}

/// A target computed inside the neuron update loop: cheap ones (ReLU, max) are, so that the step
/// makes one pass over memory; the others are evaluated into a buffer first, which the loop then
/// reads through ``FusedIdentity``.
protocol FusedTarget {
  static func value<Scalar: TensorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar
}

/// ReLU, exactly as `NeuronTarget.evaluate` computes it.
enum FusedReLU: FusedTarget {
  @inline(__always) static func value<Scalar: TensorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar {
    a < 0 ? 0 : a
  }
}

/// The identity: fused composite populations, and targets evaluated beforehand.
enum FusedIdentity: FusedTarget {
  @inline(__always) static func value<Scalar: TensorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar { a }
}

/// The two-input maximum, NaN if either input is NaN.
enum FusedMaximum: FusedTarget {
  @inline(__always) static func value<Scalar: TensorScalar>(_ a: Scalar, _ b: Scalar) -> Scalar {
    a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
  }
}

extension Population {
  /// One pass of target and update over rows of `λ.count` neurons (rows of up to 2³⁰ when λ
  /// is shared), in the form LLVM vectorizes: raw pointers, a plain `while` and spikes counted
  /// in `Int32` per row (a `for` over a range, with its overflow trap, or a floating-point
  /// count keeps the loop scalar).
  @inline(__always)
  static func update<G: FusedTarget, S: SpikeSink>(
    _: G.Type, _: S.Type, _ dynamics: Dynamics, _ eta: Scalar, _ a: UnsafeBufferPointer<Scalar>,
    _ b: UnsafeBufferPointer<Scalar>,
    _ v: UnsafeMutableBufferPointer<Scalar>, _ lambda: UnsafeBufferPointer<Scalar>,
    _ inverse: UnsafeBufferPointer<Scalar>, _ output: UnsafeMutableBufferPointer<Scalar>,
    _ weighted: UnsafeMutablePointer<Scalar>
  ) -> Int {
    precondition(a.count >= v.count && b.count >= v.count && output.count >= v.count)
    precondition(!lambda.isEmpty && inverse.count == lambda.count && v.count % lambda.count == 0)
    let x = a.baseAddress!
    let y = b.baseAddress!
    let e = v.baseAddress!
    let o = output.baseAddress!
    let l = lambda.baseAddress!
    let r = inverse.baseAddress!
    // One loop per model, each compiled for its model alone (Neurons/).
    switch dynamics {
    case .subgradient:
      return RateIntegrateAndFire.step(G.self, S.self, eta, x, y, e, v.count, l, r, lambda.count, o, weighted)
    case .signGD:
      return SignGradientDescent.step(G.self, S.self, eta, x, y, e, v.count, l, r, lambda.count, o, weighted)
    case .signedSubgradient:
      return SignedIntegrateAndFire.step(
        G.self, S.self, eta, x, y, e, v.count, l, r, lambda.count, o, weighted)
    case .integrateAndFire, .burst:
      preconditionFailure("membrane neurons step in their own loop")
    }
  }
}
