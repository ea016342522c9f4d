import Tensor

/// The integrate-and-fire neuron read as the subgradient method on
/// `L(v; x) = ReLU(g̃(x̂) − v) + ½v²` (docs/dynamics.md, "Integrate-and-fire (subgradient)"):
///
///     s_t = H(g̃(x̂_t) − v_{t−1})   (H(0) = 0)        v_t = v_{t−1} − η_t (v_{t−1} − s_t)
///
/// With `η_t = 1/(t+1)`, `v_t` is the firing rate `Σ s / (t+1)` and converges to
/// `clip(g̃(x̂), 0, 1)` as O(1/T). Its rate form: the population publishes `λ·v_t`, and an affine
/// map of it can follow its spikes instead.
public enum RateIntegrateAndFire: NeuronModel {
  public static let dynamics = Dynamics.subgradient
  public static let sendsSpikes = false
  public static let estimateFollowsSpikes = true
  /// `1/(t+1)`: the running average.
  public static let defaultSchedule: StepSchedule? = .inverse
  public static let acceptsPerNeuronSchedule = false
  public static let hasMembrane = false
  public static let emitsNegativeOutputs = false
  public static let tunesSchedule = false
  public static func approximates(_ target: NeuronTarget) -> Bool { true }
  public static let notExportableToNIR: String? =
    "the rate form is simulated on estimates, not spikes; convert with --dynamics if to export membrane neurons"
}

extension RateIntegrateAndFire {
  /// One step of every neuron over rows of `scaleCount` neurons (rows of up to 2³⁰ when λ is
  /// shared) in the form LLVM vectorizes (``Population``): fire when the target is above the
  /// estimate, then move the estimate a step `η` toward the spike; returns the spikes.
  @inline(__always)
  static func step<Scalar: TensorScalar, G: FusedTarget, S: SpikeSink>(
    _: G.Type, _: S.Type, _ eta: Scalar, _ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>,
    _ e: UnsafeMutablePointer<Scalar>, _ neurons: Int, _ l: UnsafePointer<Scalar>, _ r: UnsafePointer<Scalar>,
    _ scaleCount: Int, _ o: UnsafeMutablePointer<Scalar>, _ weighted: UnsafeMutablePointer<Scalar>
  ) -> Int {
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
          let fires = G.value(x[i], y[i]) * inverseScale > e[i]
          let next = e[i] - eta * (e[i] - (fires ? 1 : 0))
          e[i] = next
          o[i] = scale * next
          S.store(fires, weight: spikeWeight, at: i, in: weighted)
          count &+= fires ? 1 : 0
          i &+= 1
        }
      } else {
        var j = 0
        while j < scaleCount {
          let fires = G.value(x[i], y[i]) * r[j] > e[i]
          let next = e[i] - eta * (e[i] - (fires ? 1 : 0))
          e[i] = next
          o[i] = l[j] * next
          S.store(fires, weight: eta * l[j], at: i, in: weighted)
          count &+= fires ? 1 : 0
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
