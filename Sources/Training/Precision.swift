import Tensor

/// The arithmetic a network trains in (Bertoin et al., NeurIPS 2021: the choice changes results).
public enum Precision: String, Sendable, Hashable, Codable, CaseIterable {
  /// IEEE half: every intermediate, gradient and parameter is rounded to binary16 after each
  /// operation, while GEMM products accumulate in float32 — what GPU half-precision kernels do.
  /// No float32 master copy of the weights is kept; the optimizer's state (momentum, Adam's
  /// moments) is kept in float32.
  case float16
  /// IEEE single precision throughout (BLAS `sgemm`).
  case float32
  /// IEEE double precision throughout (BLAS `dgemm`).
  case float64
}

/// The choices of Clarke-differential elements at the points where an op is not differentiable.
///
/// Reverse-mode AD needs a value where the derivative does not exist; libraries silently pick
/// one (PyTorch, TensorFlow and JAX use ReLU'(0) = 0). Here it is explicit (docs/dynamics.md, "Training with chosen subgradients").
public struct SubgradientPolicy: Sendable, Hashable, Codable {
  /// The derivative used where the input is exactly 0 for `relu`, `leaky_relu` and `abs`, and at
  /// the threshold of a thresholded ReLU: the gradient passed back is `gradOut · reluPrime`.
  /// Any real number is accepted; values in [0, 1] are elements of ReLU's Clarke differential.
  public var reluPrime: Double
  /// Which of several tied maxima in a max-pooling window receives the gradient.
  public var maxPoolTie: MaxTieRule

  public init(reluPrime: Double = 0, maxPoolTie: MaxTieRule = .first) {
    self.reluPrime = reluPrime
    self.maxPoolTie = maxPoolTie
  }
}
