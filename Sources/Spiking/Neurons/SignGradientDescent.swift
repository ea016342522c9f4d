import Tensor

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
  public static let summary = "sign gradient descent, any elementwise function"
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

extension SignGradientDescent: BinarySpikeRule {
  /// Fire when the estimate is at or above the target; step down on a spike and up otherwise.
  @inline(__always)
  static func update<Scalar: TensorScalar>(_ estimate: Scalar, toward goal: Scalar, step eta: Scalar) -> (
    fires: Bool, next: Scalar
  ) {
    let fires = estimate >= goal
    return (fires, estimate + (fires ? -eta : eta))
  }

  /// One signGD step with a step per neuron (``StepSchedule/adaptive(eta0:gamma:)``): fire when
  /// the estimate is at or above the target; the step keeps its size while the spike repeats
  /// the one before and shrinks by `gamma` when it differs; returns the spikes.
  static func stepAdaptive<Scalar: TensorScalar>(
    _ gamma: Scalar, _ goals: [Scalar], _ estimates: inout [Scalar], _ lastSteps: inout [Scalar],
    _ scales: [Scalar], _ inverses: [Scalar], _ output: UnsafeMutableBufferPointer<Scalar>,
    _ spikes: UnsafeMutableBufferPointer<Scalar>?
  ) -> Int {
    var fired = 0
    let width = scales.count
    for i in estimates.indices {
      let fires = estimates[i] >= goals[i] * inverses[i % width]
      let previous = lastSteps[i]
      let size = (previous < 0) == fires ? abs(previous) : abs(previous) * gamma
      let step = fires ? -size : size
      lastSteps[i] = step
      estimates[i] += step
      output[i] = scales[i % width] * estimates[i]
      spikes?[i] = fires ? 1 : 0
      fired += fires ? 1 : 0
    }
    return fired
  }
}
