internal import CBLAS
import RealModule

/// A floating-point type tensors hold: `Float` or `Double`, each with its BLAS routines.
///
/// Half precision is not a storage type here: half-precision arithmetic is emulated on `Float`
/// tensors by ``Tensor/roundedToHalf()`` after each operation, with products accumulated in
/// float32 — what GPU half-precision kernels do.
public protocol TensorScalar: Real, BinaryFloatingPoint, Sendable, Codable
where RawSignificand: FixedWidthInteger {
  /// `C ← α·op(A)·op(B) + β·C` on row-major matrices (BLAS `?gemm`); `op` transposes when asked.
  /// `A` is `m×k` after `op`, `B` is `k×n` after `op`, `C` is `m×n`.
  static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
    beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

  /// The nearest IEEE binary16 value, as this type (round to nearest, ties to even; values beyond
  /// ±65504 become ±∞, NaN stays NaN).
  static func roundedToHalf(_ x: Self) -> Self
}

extension Float: TensorScalar {
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    BLASThreads.single
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  @inlinable
  public static func roundedToHalf(_ x: Float) -> Float { Float(Float16(x)) }
}

extension Double: TensorScalar {
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    BLASThreads.single
    cblas_dgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  @inlinable
  public static func roundedToHalf(_ x: Double) -> Double { Double(Float16(x)) }
}
