import Tensor

/// The integrate-and-fire neuron as hardware runs it (docs/dynamics.md, "Membrane
/// integrate-and-fire"): a membrane `u`, in units of the threshold θ = λ and starting at `u_0`,
/// integrates the input current that affine layers compute from the spikes of the layer before,
///
///     u_t = κ·u_{t−1} + I_t/λ     (κ = 1, or 1 − 1/τ with a leak τ)
///     s_t = [u_t > 1],   then u_t ← u_t − 1 (subtract) or 0 (zero)
///
/// and sends `λ·s_t` on the wire, not an estimate: its value is the rate `λ·Σs/t`, and the
/// readout sums its input current over the steps. Its threshold makes its rate ReLU of its mean
/// input (clipped to [0, λ]), so it populates ReLU nodes, and capped ones (ReLU6) with λ no larger
/// than the cap (max pooling becomes ReLU neurons at conversion). NIR's IF and LIF nodes hold it (docs/nir.md).
public enum MembraneIntegrateAndFire: NeuronModel {
  public static let dynamics = Dynamics.integrateAndFire
  public static let summary = "integrate-and-fire membranes exchanging spikes"
  public static let sendsSpikes = true
  public static let estimateFollowsSpikes = true
  /// None: what a layer fed by membrane neurons sees each step is that step's spikes alone.
  public static let defaultSchedule: StepSchedule? = nil
  public static let acceptsPerNeuronSchedule = false
  public static let hasMembrane = true
  public static let emitsNegativeOutputs = false
  public static let tunesSchedule = false
  public static func approximates(_ target: NeuronTarget) -> Bool { computesByThreshold(target) }
  public static func largestScale(for target: NeuronTarget) -> Double? { ceiling(of: target) }

  /// Whether a membrane's threshold computes `target`: ReLU, and ReLU capped at `m` (ReLU6,
  /// `ReLU(max_value=m)`), whose cap is the neuron's own ceiling λ when `λ ≤ m`.
  static func computesByThreshold(_ target: NeuronTarget) -> Bool {
    switch target {
    case .unary(.relu): true
    case .unary(.clippedRelu(_, let negativeSlope, let threshold)): negativeSlope == 0 && threshold == 0
    default: false
    }
  }

  /// `m` for a ReLU capped at `m`, nil otherwise.
  static func ceiling(of target: NeuronTarget) -> Double? {
    if case .unary(.clippedRelu(let maxValue?, 0, 0)) = target { maxValue } else { nil }
  }
  public static let notExportableToNIR: String? = nil
  public static let parameters = [resetParameter, leakParameter]

  /// `reset`: ``ResetMode``, subtract unless told otherwise.
  public static let resetParameter = NeuronParameter(
    name: "reset",
    summary: "what the potential becomes when the neuron fires: subtract the threshold, or zero",
    domain: .word(ResetMode.allCases.map(\.rawValue)), defaultValue: .word(ResetMode.subtract.rawValue))
  /// `leak`: the membrane time constant τ; the potential keeps `1 − 1/τ` each step. None
  /// unless told otherwise.
  public static let leakParameter = NeuronParameter(
    name: "leak", summary: "membrane time constant τ: each step keeps 1 − 1/τ of the potential",
    domain: .number(1...1e9, integer: false, noneAllowed: true), defaultValue: nil)

  /// A membrane's settings read from a population's ``NeuronParameters``.
  public struct Membrane: Sendable, Hashable {
    public var reset: ResetMode
    /// τ; nil: no leak.
    public var leak: Double?

    public init(reset: ResetMode = .subtract, leak: Double? = nil) {
      self.reset = reset
      self.leak = leak
    }

    /// The settings in `parameters` (reset by subtraction and no leak where they are left out).
    public init(_ parameters: NeuronParameters) {
      reset = parameters.word(resetParameter.name).flatMap(ResetMode.init(rawValue:)) ?? .subtract
      leak = parameters.number(leakParameter.name)
    }

    /// These settings by name.
    public var parameters: NeuronParameters {
      var parameters = NeuronParameters([resetParameter.name: .word(reset.rawValue)])
      parameters[leakParameter.name] = leak.map { .number($0) }
      return parameters
    }
  }
}

/// How a membrane neuron's potential takes in the step's current, chosen once per step so that
/// the update loop has no branch on it.
protocol MembraneIntegration {
  /// The potential after integrating `x` (the current) with `r = 1/λ`.
  static func potential<Scalar: TensorScalar>(_ u: Scalar, _ x: Scalar, _ r: Scalar, _ tau: Scalar) -> Scalar
}

/// `u + I/λ`.
enum IdealIntegration: MembraneIntegration {
  @inline(__always)
  static func potential<Scalar: TensorScalar>(_ u: Scalar, _ x: Scalar, _ r: Scalar, _ tau: Scalar) -> Scalar
  {
    u + x * r
  }
}

/// `u + ((τ/λ)·I − u)/τ`: `(1 − 1/τ)·u + I/λ` in the order NIR's LIF equation computes it.
enum LeakyIntegration: MembraneIntegration {
  @inline(__always)
  static func potential<Scalar: TensorScalar>(_ u: Scalar, _ x: Scalar, _ r: Scalar, _ tau: Scalar) -> Scalar
  {
    u + (x * (tau * r) - u) / tau
  }
}

extension MembraneIntegrateAndFire {
  /// One step of membrane neurons: `u ← u + I/λ` — or, leaky, `u ← u + ((τ/λ)·I − u)/τ`,
  /// which is `(1 − 1/τ)·u + I/λ` computed as NIR's LIF computes it, so that an exported
  /// network rounds alike — fire where `u > 1`, then `u ← u − 1` or `u ← 0`; the output (and a
  /// spike sink's weight) is `λ·s`. Rows of `λ.count` neurons as in the other update loops.
  static func step<Scalar: TensorScalar, S: SpikeSink>(
    _: S.Type, _ reset: ResetMode, _ tau: Scalar?, _ current: UnsafeBufferPointer<Scalar>,
    _ u: UnsafeMutableBufferPointer<Scalar>, _ lambda: [Scalar], _ inverse: [Scalar],
    _ output: UnsafeMutableBufferPointer<Scalar>, _ sink: UnsafeMutablePointer<Scalar>
  ) -> Int {
    if let tau {
      return step(
        LeakyIntegration.self, S.self, reset, tau, current, u, lambda, inverse, output, sink)
    }
    return step(IdealIntegration.self, S.self, reset, 1, current, u, lambda, inverse, output, sink)
  }

  @inline(never)
  static func step<Scalar: TensorScalar, I: MembraneIntegration, S: SpikeSink>(
    _: I.Type, _: S.Type, _ reset: ResetMode, _ tau: Scalar, _ current: UnsafeBufferPointer<Scalar>,
    _ u: UnsafeMutableBufferPointer<Scalar>, _ lambda: [Scalar], _ inverse: [Scalar],
    _ output: UnsafeMutableBufferPointer<Scalar>, _ sink: UnsafeMutablePointer<Scalar>
  ) -> Int {
    precondition(current.count >= u.count && output.count >= u.count && u.count % lambda.count == 0)
    let x = current.baseAddress!
    let m = u.baseAddress!
    let o = output.baseAddress!
    // Reset by subtraction keeps u − 1; reset to zero keeps nothing.
    let drop: Scalar = reset == .subtract ? 1 : 0
    let keepAfterSpike: Scalar = reset == .subtract ? 1 : 0
    return lambda.withUnsafeBufferPointer { l in
      inverse.withUnsafeBufferPointer { r in
        var fired = 0
        var i = 0
        if l.count == 1 {
          let (scale, inverseScale) = (l[0], r[0])
          while i < u.count {
            let end = i &+ Swift.min(u.count &- i, 1 << 30)
            var count: Int32 = 0
            while i < end {
              let potential = I.potential(m[i], x[i], inverseScale, tau)
              let fires = potential > 1
              m[i] = fires ? keepAfterSpike * (potential - drop) : potential
              o[i] = fires ? scale : 0
              S.store(fires, weight: scale, at: i, in: sink)
              count &+= fires ? 1 : 0
              i &+= 1
            }
            fired &+= Int(count)
          }
          return fired
        }
        while i < u.count {
          var count: Int32 = 0
          var j = 0
          while j < l.count {
            let potential = I.potential(m[i], x[i], r[j], tau)
            let fires = potential > 1
            m[i] = fires ? keepAfterSpike * (potential - drop) : potential
            o[i] = fires ? l[j] : 0
            S.store(fires, weight: l[j], at: i, in: sink)
            count &+= fires ? 1 : 0
            i &+= 1
            j &+= 1
          }
          fired &+= Int(count)
        }
        return fired
      }
    }
  }
}
