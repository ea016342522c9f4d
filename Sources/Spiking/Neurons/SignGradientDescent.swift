/// The sign-gradient-descent neuron (Oh & Lee, ICML 2024; docs/dynamics.md, "Sign gradient
/// descent"): it fires when its estimate is at or above the target and steps down on a spike,
/// up otherwise,
///
///     s_t = [v_{t−1} ≥ g̃(x̂_t)]        v_t = v_{t−1} − η_t (2 s_t − 1)        v_0 = 0,
///
/// and publishes `λ·v_t`. With a geometric schedule the error falls geometrically once the
/// target is reached; the reachable range is `±Σ η_t`. It approximates any function of its
/// inputs, of either sign.
public enum SignGradientDescent: NeuronModel {
  public static let dynamics = Dynamics.signGD
  public static let sendsSpikes = false
  public static let estimateFollowsSpikes = false
  /// `0.15 · 0.95^(t−1)`, the defaults of Oh & Lee's code.
  public static let defaultSchedule: StepSchedule? = .geometric(
    eta0: StepSchedule.defaultEta0, gamma: StepSchedule.defaultGamma)
  public static let acceptsPerNeuronSchedule = true
  public static let hasMembrane = false
  public static let emitsNegativeOutputs = true
  public static let tunesSchedule = true
  public static func approximates(_ target: NeuronTarget) -> Bool { true }
  public static let notExportableToNIR: String? =
    "NIR has no sign-gradient-descent neuron (its estimate moves by ±η_t each step, which no NIR primitive computes)"
}
