import Tensor

/// Inference-time batch normalization, `y = γ (x − μ) / √(σ² + ε) + β` per channel, with μ and
/// σ² the moving statistics: the affine map `y = x·a + b` with `a = γ/√(σ² + ε)` and
/// `b = β − μ·a`. Every user of the op (inference, folding into the layer before, the
/// simulator, the backward pass in inference mode) takes `a` and `b` from here.
public enum BatchNormalization {
  /// `a = γ/√(σ² + ε)` and `b = β − μ·a` per channel, from a node's parameters (`gamma` absent
  /// is 1, `beta` absent is 0).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func channelAffine<Scalar: TensorScalar>(
    epsilon: Double, parameters: [String: Tensor<Scalar>]
  ) -> (scale: [Scalar], shift: [Scalar]) {
    let mean = parameters["moving_mean"]!.scalars
    let variance = parameters["moving_variance"]!.scalars
    let gamma = parameters["gamma"]?.scalars
    let beta = parameters["beta"]?.scalars
    let scale = variance.indices.map { (gamma?[$0] ?? 1) / (variance[$0] + Scalar(epsilon)).squareRoot() }
    let shift = mean.indices.map { (beta?[$0] ?? 0) - mean[$0] * scale[$0] }
    return (scale, shift)
  }
}
