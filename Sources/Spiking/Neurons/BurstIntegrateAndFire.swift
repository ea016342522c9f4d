import Tensor

/// The burst (multi-threshold) integrate-and-fire neuron: a membrane neuron that may send up to
/// `n = 2ᵇ − 1` spikes in one step, `b` bits per neuron and step (docs/dynamics.md, "Burst
/// integrate-and-fire"). Its membrane `u`, in units of one spike's threshold `θ = λ/n` and
/// starting at `u_0`, integrates the input current,
///
///     u_t = κ·u_{t−1} + n·I_t/λ         (κ = 1, or 1 − 1/τ with a leak τ)
///     s_t = min(n, max(0, ⌈u_t⌉ − 1))   (the thresholds 1, 2, … n that u_t exceeds)
///     u_t ← u_t − s_t (subtract)  or  0 where s_t > 0 (zero)
///
/// and sends `λ·s_t/n`. Over `T` steps its rate `λ·Σs/(nT)` resolves ReLU of its mean input in
/// steps of `λ/(nT)`: what a binary neuron needs `nT` steps for, it says in `T` steps of `b` bits.
/// With `b = 1` it is ``MembraneIntegrateAndFire`` exactly, to the bit. Bursts of this kind are
/// what Li & Zeng (*Efficient and accurate conversion of spiking neural network with burst
/// spikes*, IJCAI 2022) use to convert deep networks at a few time steps.
public enum BurstIntegrateAndFire: NeuronModel {
  public static let dynamics = Dynamics.burst
  public static let summary = "membranes sending bursts of up to 2ᵇ − 1 spikes per step, --neuron bits=b"
  public static let sendsSpikes = true
  public static let estimateFollowsSpikes = true
  /// None: a layer fed by burst neurons sees each step's bursts alone.
  public static let defaultSchedule: StepSchedule? = nil
  public static let acceptsPerNeuronSchedule = false
  public static let hasMembrane = true
  public static let emitsNegativeOutputs = false
  public static let tunesSchedule = false
  public static func approximates(_ target: NeuronTarget) -> Bool {
    MembraneIntegrateAndFire.computesByThreshold(target)
  }
  public static func largestScale(for target: NeuronTarget) -> Double? {
    MembraneIntegrateAndFire.ceiling(of: target)
  }
  public static let notExportableToNIR: String? =
    "burst neurons send up to 2ᵇ − 1 spikes per step; NIR's IF and LIF send at most one (convert with --dynamics if, or bits=1)"
  public static let parameters = [
    bitsParameter, MembraneIntegrateAndFire.resetParameter, MembraneIntegrateAndFire.leakParameter,
  ]
  /// `2ᵇ`: no spike, or a burst of 1 … `2ᵇ − 1`.
  public static func spikeLevels(_ parameters: NeuronParameters) -> Int { 1 << bits(parameters) }

  /// `bits`: b, the bits per neuron and step, 1 … 3 (2 unless told otherwise).
  public static let bitsParameter = NeuronParameter(
    name: "bits", summary: "bits per neuron and step: bursts of up to 2ᵇ − 1 spikes",
    domain: .number(1...3, integer: true, noneAllowed: false), defaultValue: .number(2))

  /// b in `parameters`, 2 where it is left out.
  public static func bits(_ parameters: NeuronParameters) -> Int {
    parameters.number(bitsParameter.name).map { Int($0) } ?? 2
  }
}

extension BurstIntegrateAndFire {
  /// One step of burst neurons with the settings in `parameters`; the output (and a spike
  /// sink's value, with weight `λ/n`) is `λ·s/n`. Rows of `λ.count` neurons as in the other
  /// update loops. Returns the spikes (a burst of `s` counts `s`).
  static func step<Scalar: TensorScalar, S: SpikeSink>(
    _: S.Type, _ parameters: NeuronParameters, _ current: UnsafeBufferPointer<Scalar>,
    _ u: UnsafeMutableBufferPointer<Scalar>, _ lambda: [Scalar], _ inverse: [Scalar],
    _ output: UnsafeMutableBufferPointer<Scalar>, _ sink: UnsafeMutablePointer<Scalar>
  ) -> Int {
    let membrane = MembraneIntegrateAndFire.Membrane(parameters)
    let most = Scalar((1 << bits(parameters)) - 1)
    if let leak = membrane.leak {
      return step(
        LeakyIntegration.self, S.self, membrane.reset, Scalar(leak), most, current, u, lambda, inverse,
        output, sink)
    }
    return step(
      IdealIntegration.self, S.self, membrane.reset, 1, most, current, u, lambda, inverse, output, sink)
  }

  /// The loop over rows of `λ.count` neurons, in the vectorizable form of the other models' (spikes counted in `Scalar` per row
  /// of at most 2²⁰ neurons, exact in `Float` for bursts up to 7).
  @inline(never)
  static func step<Scalar: TensorScalar, I: MembraneIntegration, S: SpikeSink>(
    _: I.Type, _: S.Type, _ reset: ResetMode, _ tau: Scalar, _ most: Scalar,
    _ current: UnsafeBufferPointer<Scalar>, _ u: UnsafeMutableBufferPointer<Scalar>, _ lambda: [Scalar],
    _ inverse: [Scalar], _ output: UnsafeMutableBufferPointer<Scalar>, _ sink: UnsafeMutablePointer<Scalar>
  ) -> Int {
    precondition(current.count >= u.count && output.count >= u.count && u.count % lambda.count == 0)
    let x = current.baseAddress!
    let m = u.baseAddress!
    let o = output.baseAddress!
    // Reset by subtraction keeps u − s; reset to zero keeps nothing after a burst.
    let keepAfterSpike: Scalar = reset == .subtract ? 1 : 0
    // Per spike: θ = λ/n, so the current counts n/λ thresholds and a spike is worth λ·(1/n).
    let share = 1 / most
    let rowLength = lambda.count == 1 ? 1 << 20 : lambda.count
    return lambda.withUnsafeBufferPointer { l in
      inverse.withUnsafeBufferPointer { r in
        var fired = 0
        var i = 0
        while i < u.count {
          let end = i &+ Swift.min(u.count &- i, rowLength)
          var count: Scalar = 0
          var j = 0
          while i < end {
            let worth = l[j] * share
            let potential = I.potential(m[i], x[i], r[j] * most, tau)
            let crossed = potential.rounded(.up) - 1
            // NaN compares false and sends nothing.
            let s: Scalar = crossed > 0 ? (crossed < most ? crossed : most) : 0
            m[i] = s > 0 ? keepAfterSpike * (potential - s) : potential
            o[i] = s * worth
            S.store(signed: s, weight: worth, at: i, in: sink)
            count += s
            i &+= 1
            j = l.count == 1 ? 0 : j &+ 1
          }
          fired &+= Int(count)
        }
        return fired
      }
    }
  }
}
