import Tensor

/// Inference-time batch normalization, `y = γ (x − μ) / √(σ² + ε) + β` per channel, with μ and
/// σ² the moving statistics: the affine map `y = x·a + b` with `a = γ/√(σ² + ε)` and
/// `b = β − μ·a`. Every user of the op (inference, folding into the layer before, the
/// simulator, the backward pass in inference mode) takes `a` and `b` from here. In training
/// mode the statistics are the batch's.
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

  /// Inference: `x·a + b` per channel.
  static func forward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, epsilon: Double, parameters: [String: Tensor<Scalar>]
  )
    -> Tensor<Scalar>
  {
    let affine = channelAffine(epsilon: epsilon, parameters: parameters)
    return x.affinePerChannel(scale: affine.scale, shift: affine.shift)
  }

  /// Training: statistics over every axis but the last, `y = γ x̂ + β` with
  /// `x̂ = (x − μ)/√(σ² + ε)` and σ² the biased (population) variance, as Keras uses in training.
  /// Keeps `x̂` and `1/√(σ² + ε)`, and returns the batch statistics for the moving averages.
  static func trainingForward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, epsilon: Double, parameters: [String: Tensor<Scalar>]
  ) -> DifferentiableOutput<Scalar> {
    let width = x.shape.last!
    let rows = x.count / width
    let mean = x.reshaped([rows, width]).reduce(.mean, axis: 0).scalars
    var variance = [Scalar](repeating: 0, count: width)
    x.scalars.withUnsafeBufferPointer { v in
      mean.withUnsafeBufferPointer { mu in
        variance.withUnsafeMutableBufferPointer { sigma in
          for r in 0..<rows {
            let base = r &* width
            for c in 0..<width {
              let d = v[base &+ c] - mu[c]
              sigma[c] += d * d
            }
          }
        }
      }
    }
    variance = variance.map { $0 / Scalar(rows) }
    let inverse = variance.map { 1 / ($0 + Scalar(epsilon)).squareRoot() }
    let normalized = x.affinePerChannel(scale: inverse, shift: mean.indices.map { -mean[$0] * inverse[$0] })
    let y = normalized.affinePerChannel(
      scale: parameters["gamma"]?.scalars ?? [Scalar](repeating: 1, count: width),
      shift: parameters["beta"]?.scalars ?? [Scalar](repeating: 0, count: width))
    return DifferentiableOutput(
      y, saved: .normalization(normalized: normalized, inverseDeviation: inverse),
      batchStatistics: (mean, variance))
  }

  /// Training mode: the normalization backward pass over the batch (``normalizationBackward``).
  /// Inference mode: `dx = dy·a`, `dγ = Σ dy·(x − μ)/√(σ² + ε)`, `dβ = Σ dy` over every axis but
  /// the channels.
  static func backward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, _ dy: Tensor<Scalar>, saved: SavedForBackward<Scalar>, epsilon: Double,
    parameters p: [String: Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    if case .normalization(let normalized, let inverse) = saved {
      return normalizationBackward(dy, normalized: normalized, inverse: inverse, parameters: p, perRow: false)
    }
    let scale = channelAffine(epsilon: epsilon, parameters: p).scale
    var gradients = OpGradients(
      inputs: [dy.affinePerChannel(scale: scale, shift: [Scalar](repeating: 0, count: scale.count))])
    let width = scale.count
    let rows = dy.count / width
    if p["gamma"] != nil {
      let mean = p["moving_mean"]!.scalars
      let deviation = p["moving_variance"]!.scalars.map { 1 / ($0 + Scalar(epsilon)).squareRoot() }
      let standardized = x.affinePerChannel(
        scale: deviation, shift: mean.indices.map { -mean[$0] * deviation[$0] })
      gradients.parameters["gamma"] = (dy * standardized).reshaped([rows, width]).reduce(.sum, axis: 0)
    }
    if p["beta"] != nil { gradients.parameters["beta"] = dy.reshaped([rows, width]).reduce(.sum, axis: 0) }
    return gradients
  }

  /// Backward pass of `y = γ x̂ + β` with `x̂` normalized over rows (BatchNorm: statistics per
  /// channel over the batch) or within each row (LayerNorm):
  /// `dx = (1/m) · inv · (m·dx̂ − Σ dx̂ − x̂ · Σ (dx̂ · x̂))` with `dx̂ = dy · γ`; `dγ = Σ dy·x̂`,
  /// `dβ = Σ dy` over rows. Gradients for `gamma` and `beta` only where the node has them.
  static func normalizationBackward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, normalized: Tensor<Scalar>, inverse: [Scalar], parameters: [String: Tensor<Scalar>],
    perRow: Bool
  ) -> OpGradients<Scalar> {
    let width = dy.shape.last!
    let rows = dy.count / width
    let gammaValues = parameters["gamma"]?.scalars ?? [Scalar](repeating: 1, count: width)
    var dGamma = [Scalar](repeating: 0, count: width)
    var dBeta = [Scalar](repeating: 0, count: width)
    var dx = Tensor<Scalar>(zeros: dy.shape)
    dy.scalars.withUnsafeBufferPointer { g in
      normalized.scalars.withUnsafeBufferPointer { xh in
        gammaValues.withUnsafeBufferPointer { gm in
          dGamma.withUnsafeMutableBufferPointer { dg in
            dBeta.withUnsafeMutableBufferPointer { db in
              dx.withUnsafeMutableScalars { out in
                for r in 0..<rows {
                  let base = r &* width
                  for c in 0..<width {
                    dg[c] += g[base &+ c] * xh[base &+ c]
                    db[c] += g[base &+ c]
                  }
                }
                if perRow {
                  let m = Scalar(width)
                  for r in 0..<rows {
                    let base = r &* width
                    var sum: Scalar = 0
                    var dot: Scalar = 0
                    for c in 0..<width {
                      let d = g[base &+ c] * gm[c]
                      sum += d
                      dot += d * xh[base &+ c]
                    }
                    let factor = inverse[r] / m
                    for c in 0..<width {
                      out[base &+ c] = factor * (m * g[base &+ c] * gm[c] - sum - xh[base &+ c] * dot)
                    }
                  }
                } else {
                  // Per channel, Σ dy·γ = γ·dβ and Σ dy·γ·x̂ = γ·dγ: no second reduction pass.
                  let m = Scalar(rows)
                  for r in 0..<rows {
                    let base = r &* width
                    for c in 0..<width {
                      let i = base &+ c
                      let scaled: Scalar = m * g[i] - db[c] - xh[i] * dg[c]
                      out[i] = inverse[c] / m * gm[c] * scaled
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    var gradients = OpGradients(inputs: [dx])
    if parameters["gamma"] != nil { gradients.parameters["gamma"] = Tensor(shape: [width], scalars: dGamma) }
    if parameters["beta"] != nil { gradients.parameters["beta"] = Tensor(shape: [width], scalars: dBeta) }
    return gradients
  }
}

/// Layer normalization over the last axis, `y = γ (x − μ) / √(σ² + ε) + β` with each row's mean
/// μ and population variance σ², and the affine steps its spiking decomposition uses (the
/// centring and mean statistics, `γ·x + β`).
enum LayerNormalization {
  /// Inference: statistics accumulated in Double (`Tensor.layerNormalized`).
  static func forward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, epsilon: Double, parameters: [String: Tensor<Scalar>]
  )
    -> Tensor<Scalar>
  {
    x.layerNormalized(
      epsilon: Scalar(epsilon), gamma: parameters["gamma"]?.scalars, beta: parameters["beta"]?.scalars)
  }

  /// The differentiable form: statistics in the tensor's own precision (so a half-precision run
  /// rounds them as it goes), keeping `x̂` and `1/√(σ² + ε)` per row for the backward pass.
  static func differentiableForward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, epsilon: Double, parameters: [String: Tensor<Scalar>]
  ) -> DifferentiableOutput<Scalar> {
    let width = x.shape.last!
    let rows = x.count / width
    let epsilon = Scalar(epsilon)
    var normalized = x
    var inverse = [Scalar](repeating: 0, count: rows)
    normalized.withUnsafeMutableScalars { v in
      for r in 0..<rows {
        let base = r &* width
        var mean: Scalar = 0
        for c in 0..<width { mean += v[base &+ c] }
        mean /= Scalar(width)
        var variance: Scalar = 0
        for c in 0..<width {
          let d = v[base &+ c] - mean
          variance += d * d
        }
        let inv = 1 / (variance / Scalar(width) + epsilon).squareRoot()
        inverse[r] = inv
        for c in 0..<width { v[base &+ c] = (v[base &+ c] - mean) * inv }
      }
    }
    let y = normalized.affinePerChannel(
      scale: parameters["gamma"]?.scalars ?? [Scalar](repeating: 1, count: width),
      shift: parameters["beta"]?.scalars ?? [Scalar](repeating: 0, count: width))
    return DifferentiableOutput(y, saved: .normalization(normalized: normalized, inverseDeviation: inverse))
  }

  /// The normalization backward pass within each row.
  static func backward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, saved: SavedForBackward<Scalar>, parameters: [String: Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    guard case .normalization(let normalized, let inverse) = saved else {
      preconditionFailure("LayerNorm's forward pass saved nothing")
    }
    return BatchNormalization.normalizationBackward(
      dy, normalized: normalized, inverse: inverse, parameters: parameters, perRow: true)
  }

  /// `γ·x + β` along the last axis (LayerNorm's affine tail); either may be absent.
  static func scaleShift<Scalar: TensorScalar>(_ x: Tensor<Scalar>, parameters: [String: Tensor<Scalar>])
    -> Tensor<Scalar>
  {
    let width = x.shape.last!
    return x.affinePerChannel(
      scale: parameters["gamma"]?.scalars ?? [Scalar](repeating: 1, count: width),
      shift: parameters["beta"]?.scalars ?? [Scalar](repeating: 0, count: width))
  }

  /// The input gradient of ``scaleShift(_:parameters:)``: `dy·gamma` per channel.
  static func scaleShiftBackward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, parameters: [String: Tensor<Scalar>]
  )
    -> Tensor<Scalar>
  {
    guard let gamma = parameters["gamma"]?.scalars else { return dy }
    return dy.affinePerChannel(scale: gamma, shift: [Scalar](repeating: 0, count: gamma.count))
  }

  /// A statistic of each row broadcast back over it: mean, sum, or the deviation `x − mean(x)`.
  static func lastAxis<Scalar: TensorScalar>(_ x: Tensor<Scalar>, _ statistic: LastAxisStatistic) -> Tensor<
    Scalar
  > {
    var output = x
    output.withUnsafeMutableScalars { out in
      Tensor<Scalar>.lastAxisStatistic(
        UnsafeBufferPointer(out), count: out.count, width: x.shape.last!, statistic: statistic, into: out)
    }
    return output
  }

  /// Each row shifted cyclically: `y[…, j] = x[…, (j + shift) mod width]`.
  static func lastAxisRotation<Scalar: TensorScalar>(_ x: Tensor<Scalar>, shift: Int) -> Tensor<Scalar> {
    var output = x
    output.withUnsafeMutableScalars { out in
      x.scalars.withUnsafeBufferPointer { input in
        Tensor<Scalar>.lastAxisRotation(
          input, count: input.count, width: x.shape.last!, shift: shift, into: out)
      }
    }
    return output
  }
}
