extension Tensor {
  /// `y = x·scale[c] + shift[c]` along the last axis (an inference-time BatchNorm, or a folded
  /// normalization scale).
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func affinePerChannel(scale: [Scalar], shift: [Scalar]) -> Tensor {
    let width = shape.last ?? 0
    precondition(
      scale.count == width && shift.count == width,
      "per-channel affine of \(shape) with \(scale.count) scales")
    var result = self
    result.scalars.withUnsafeMutableBufferPointer { x in
      scale.withUnsafeBufferPointer { a in
        shift.withUnsafeBufferPointer { b in
          Tensor.affinePerChannel(UnsafeBufferPointer(x), count: x.count, scale: a, shift: b, into: x)
        }
      }
    }
    return result
  }

  /// Layer normalization over the last axis: `y = γ (x − μ) / sqrt(σ² + ε) + β` with the row's
  /// mean μ and population variance σ² (divisor n), accumulated in Double for accuracy.
  /// `gamma`/`beta` nil mean 1 and 0. A constant row gives `β` (its variance is 0, so `ε` must
  /// be positive to avoid 0/0).
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func layerNormalized(epsilon: Scalar, gamma: [Scalar]?, beta: [Scalar]?) -> Tensor {
    let width = shape.last ?? 0
    precondition(
      gamma.map { $0.count == width } ?? true && beta.map { $0.count == width } ?? true,
      "layer norm parameters for \(shape)")
    var result = self
    result.scalars.withUnsafeMutableBufferPointer { x in
      withOptionalBuffer(gamma) { g in
        withOptionalBuffer(beta) { b in
          Tensor.layerNorm(
            UnsafeBufferPointer(x), count: x.count, width: width, epsilon: epsilon, gamma: g, beta: b, into: x
          )
        }
      }
    }
    return result
  }
}

/// Calls `body` with the array's buffer, or nil for nil.
public func withOptionalBuffer<Scalar, R>(_ array: [Scalar]?, _ body: (UnsafeBufferPointer<Scalar>?) -> R)
  -> R
{
  guard let array else { return body(nil) }
  return array.withUnsafeBufferPointer { body($0) }
}
