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
  public static let sendsSpikes = false
  public static let estimateFollowsSpikes = true
  public static let defaultSchedule: StepSchedule? = .inverse
  public static let acceptsPerNeuronSchedule = false
  public static let hasMembrane = false
  public static let emitsNegativeOutputs = true
  public static let tunesSchedule = false
  public static func approximates(_ target: NeuronTarget) -> Bool { true }
  public static let notExportableToNIR: String? = RateIntegrateAndFire.notExportableToNIR
}
