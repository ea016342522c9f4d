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
  public static let summary = "integrate-and-fire in rate form"
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

extension RateIntegrateAndFire: BinarySpikeRule {
  /// Fire when the target is above the estimate, then move the estimate a step `η` toward the
  /// spike.
  @inline(__always)
  static func update<Scalar: TensorScalar>(_ estimate: Scalar, toward goal: Scalar, step eta: Scalar) -> (
    fires: Bool, next: Scalar
  ) {
    let fires = goal > estimate
    return (fires, estimate - eta * (estimate - (fires ? 1 : 0)))
  }
}
