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
    guard width > 0 else { return result }
    result.scalars.withUnsafeMutableBufferPointer { x in
      var offset = 0
      while offset < x.count {
        for c in 0..<width { x[offset &+ c] = x[offset &+ c] * scale[c] + shift[c] }
        offset &+= width
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
    guard width > 0 else { return result }
    result.scalars.withUnsafeMutableBufferPointer { x in
      var offset = 0
      while offset < x.count {
        var total = 0.0
        for c in 0..<width { total += Double(x[offset &+ c]) }
        let mean = total / Double(width)
        var squares = 0.0
        for c in 0..<width {
          let d = Double(x[offset &+ c]) - mean
          squares += d * d
        }
        let inverse = 1 / (squares / Double(width) + Double(epsilon)).squareRoot()
        for c in 0..<width {
          let normalized = Scalar((Double(x[offset &+ c]) - mean) * inverse)
          x[offset &+ c] = normalized * (gamma?[c] ?? 1) + (beta?[c] ?? 0)
        }
        offset &+= width
      }
    }
    return result
  }
}
