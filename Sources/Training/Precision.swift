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
