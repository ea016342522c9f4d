extension Tensor {
  /// The matrix product `op(a) · op(b)` of two rank-2 tensors through BLAS `?gemm`.
  ///
  /// Summation order is BLAS's, so results differ from a naive loop in the last bits.
  /// - Parameters:
  ///   - transposeA: use `aᵀ` (so `a` is `k×m`).
  ///   - transposeB: use `bᵀ` (so `b` is `n×k`).
  /// - Returns: an `m×n` tensor.
  /// - Complexity: O(m·n·k).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func matmul(
    _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
  ) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let kB = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kB, "matmul inner dimensions differ: \(a.shape) · \(b.shape)")
    var result = k == 0 ? Tensor(zeros: [m, n]) : Tensor(uninitialized: [m, n])
    result.scalars.withUnsafeMutableBufferPointer { c in
      a.scalars.withUnsafeBufferPointer { pa in
        b.scalars.withUnsafeBufferPointer { pb in
          gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
            a: pa, lda: a.shape[1], b: pb, ldb: b.shape[1], beta: 0, c: c, ldc: n)
        }
      }
    }
    return result
  }

  /// `C ← α·op(A)·op(B) + β·C` on raw row-major buffers; empty sizes are a no-op (BLAS itself
  /// rejects a zero leading dimension).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Scalar,
    a: UnsafeBufferPointer<Scalar>, lda: Int, b: UnsafeBufferPointer<Scalar>, ldb: Int,
    beta: Scalar, c: UnsafeMutableBufferPointer<Scalar>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    guard k > 0, let pa = a.baseAddress, let pb = b.baseAddress else {
      // op(A)·op(B) is all zeros: C ← β·C.
      for row in 0..<m {
        for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
      }
      return
    }
    BLASStatistics.timed {
      Scalar.gemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
        a: pa, lda: max(lda, 1), b: pb, ldb: max(ldb, 1), beta: beta, c: c.baseAddress!, ldc: max(ldc, 1))
    }
  }

  /// A dense layer: `x · W + b` for `x` of shape `(…, in)`, `W` `(in, out)` and `b` `(out)`.
  /// - Complexity: O(rows·in·out).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func dense(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(weight.rank == 2 && x.shape.last == weight.shape[0], "dense: \(x.shape) · \(weight.shape)")
    let rows = x.count / max(weight.shape[0], 1)
    var y = matmul(x.reshaped([rows, weight.shape[0]]), weight)
    if let bias { y.addRowVector(bias) }
    return y.reshaped(Array(x.shape.dropLast()) + [weight.shape[1]])
  }

  /// Adds `vector` (shape `(last)`) to every row along the last axis, in place (a bias add).
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public mutating func addRowVector(_ vector: Tensor) {
    let width = vector.count
    precondition(shape.last == width, "cannot add \(vector.shape) to rows of \(shape)")
    guard width > 0 else { return }
    vector.scalars.withUnsafeBufferPointer { v in
      scalars.withUnsafeMutableBufferPointer { s in
        var offset = 0
        while offset < s.count {
          for j in 0..<width { s[offset &+ j] += v[j] }
          offset &+= width
        }
      }
    }
  }
}
