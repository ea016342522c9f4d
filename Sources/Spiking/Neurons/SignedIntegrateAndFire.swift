import Tensor

/// The signed integrate-and-fire neuron: the subgradient method on `L(v; x) = |g̃(x̂) − v| + ½v²`,
/// whose minimizer is `clip(g̃(x̂), −1, 1)` (docs/dynamics.md, "Signed integrate-and-fire").
/// Ternary spikes,
///
///     s_t = +1 if g̃(x̂_t) − v_{t−1} > η_t/2,   −1 if it is below −η_t/2,   else 0
///     v_t = v_{t−1} − η_t (v_{t−1} − s_t),
///
/// so a target within half a step stays silent and a zero output makes no spikes. With
/// `η_t = 1/(t+1)`, `v_t` is the net rate `Σ s / (t+1)`, within `2/(T+1)` of the clipped target:
/// a membrane with a positive and a negative threshold, reset by subtraction, which unlike
/// ``RateIntegrateAndFire`` represents negative outputs (GELU's dip, LayerNorm, tanh).
public enum SignedIntegrateAndFire: NeuronModel {
  public static let dynamics = Dynamics.signedSubgradient
  public static let summary =
    "signed integrate-and-fire, ternary spikes; also --dynamics subgradient --signed"
  public static let sendsSpikes = false
  public static let estimateFollowsSpikes = true
  public static let defaultSchedule: StepSchedule? = .inverse
  public static let acceptsPerNeuronSchedule = false
  public static let hasMembrane = false
  public static let emitsNegativeOutputs = true
  public static let tunesSchedule = false
  public static func approximates(_ target: NeuronTarget) -> Bool { true }
  public static let notExportableToNIR: String? = RateIntegrateAndFire.notExportableToNIR
  /// −1, 0 or +1.
  public static func spikeLevels(_ parameters: NeuronParameters) -> Int { 3 }
}

extension SignedIntegrateAndFire {
  /// One step of every neuron over rows of `scaleCount` neurons, in the vectorizable form of
  /// the other models' loops (``Population``); returns the spikes.
  @inline(never)
  static func step<Scalar: TensorScalar, G: FusedTarget, S: SpikeSink>(
    _: G.Type, _: S.Type, _ eta: Scalar, _ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>,
    _ e: UnsafeMutablePointer<Scalar>, _ neurons: Int, _ l: UnsafePointer<Scalar>, _ r: UnsafePointer<Scalar>,
    _ scaleCount: Int, _ o: UnsafeMutablePointer<Scalar>, _ weighted: UnsafeMutablePointer<Scalar>
  ) -> Int {
    // The signed neuron fires only when its estimate is more than half a step from the target:
    // a spike then brings it closer, and a target within half a step of it (zero, most often)
    // makes no spikes at all instead of an alternation of +1 and −1.
    let threshold = eta / 2
    var fired = 0
    var base = 0
    while base < neurons {
      var count: Int32 = 0
      var i = base
      if scaleCount == 1 {
        let end = base &+ Swift.min(neurons &- base, 1 << 30)
        let scale = l[0]
        let inverseScale = r[0]
        let spikeWeight = eta * scale
        while i < end {
          let gap = G.value(x[i], y[i]) * inverseScale - e[i]
          let spike: Scalar = gap > threshold ? 1 : (gap < -threshold ? -1 : 0)
          let next = e[i] - eta * (e[i] - spike)
          e[i] = next
          o[i] = scale * next
          S.store(signed: spike, weight: spikeWeight, at: i, in: weighted)
          count &+= spike != 0 ? 1 : 0
          i &+= 1
        }
      } else {
        var j = 0
        while j < scaleCount {
          let gap = G.value(x[i], y[i]) * r[j] - e[i]
          let spike: Scalar = gap > threshold ? 1 : (gap < -threshold ? -1 : 0)
          let next = e[i] - eta * (e[i] - spike)
          e[i] = next
          o[i] = l[j] * next
          S.store(signed: spike, weight: eta * l[j], at: i, in: weighted)
          count &+= spike != 0 ? 1 : 0
          i &+= 1
          j &+= 1
        }
      }
      fired &+= Int(count)
      base = i
    }
    return fired
  }
}
