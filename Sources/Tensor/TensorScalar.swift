internal import CBLAS
import RealModule

/// A floating-point type tensors hold: `Float` or `Double`, each with its BLAS routines.
///
/// Half precision is not a storage type here: half-precision arithmetic is emulated on `Float`
/// tensors by ``Tensor/roundedToHalf()`` after each operation, with products accumulated in
/// float32 — what GPU half-precision kernels do.
public protocol TensorScalar: Real, BinaryFloatingPoint, SIMDScalar, Sendable, Codable
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

  /// Rounds by integer arithmetic on the bits instead of converting to `Float16` and back: without
  /// F16C in the target baseline each conversion is a library call, and half-precision training
  /// spends most of its time in them. The same bits as `Float(Float16(x))` for each of the 2³²
  /// inputs, NaNs included (checked exhaustively once; the tests check a sample), and
  /// branch-free, so loops over it compile to vector code.
  @inlinable
  public static func roundedToHalf(_ x: Float) -> Float {
    let bits = x.bitPattern
    let magnitude = bits & 0x7FFF_FFFF
    let sign = bits & 0x8000_0000
    // Normal halves: keep 10 of float32's 23 fraction bits, rounding to nearest, ties to even; a
    // carry out of the fraction correctly increments the exponent.
    let normal = (magnitude &+ 0x0FFF &+ ((magnitude >> 13) & 1)) & 0xFFFF_E000
    // Subnormal halves are the multiples of 2⁻²⁴: adding and removing 0.5, whose float32 ulp is
    // 2⁻²⁴, rounds to the nearest one (ties to even) for |x| < 2⁻¹⁴.
    let subnormal = ((Float(bitPattern: magnitude) + 0.5) - 0.5).bitPattern
    var rounded = magnitude < 0x3880_0000 ? subnormal : normal  // 2⁻¹⁴
    rounded = rounded > 0x477F_E000 ? 0x7F80_0000 : rounded  // beyond 65504: ∞
    rounded = magnitude > 0x7F80_0000 ? (magnitude | 0x0040_0000) & 0xFFFF_E000 : rounded  // quiet NaN
    return Float(bitPattern: rounded | sign)
  }
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
