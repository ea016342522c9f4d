import Tensor

/// The ops that move values without computing new ones — Flatten, Reshape, Dropout, Add,
/// Concatenate — with their backward passes.
enum Structural {
  /// Reshape to `[batch] + target`, a `-1` in `target` taking what is left.
  static func reshape<Scalar: TensorScalar>(_ x: Tensor<Scalar>, to target: [Int]) -> Tensor<Scalar> {
    let batch = x.shape[0]
    let perSample = x.count / max(batch, 1)
    let known = target.filter { $0 != -1 }.reduce(1, *)
    return x.reshaped([batch] + target.map { $0 == -1 ? perSample / known : $0 })
  }

  /// Training-mode Dropout: each element kept with probability `1 − rate` and scaled by
  /// `1/(1 − rate)`; the mask (rounded to half when training in half precision) is kept for the
  /// backward pass.
  static func dropoutForward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, rate: Double, roundsToHalf: Bool, random: inout SplitMix64
  ) -> DifferentiableOutput<Scalar> {
    let keep = 1 - Scalar(rate)
    var mask = Tensor<Scalar>(zeros: x.shape)
    mask.withUnsafeMutableScalars { m in
      for i in m.indices { m[i] = Scalar.random(in: 0..<1, using: &random) < keep ? 1 / keep : 0 }
    }
    if roundsToHalf { mask.roundToHalf() }
    return DifferentiableOutput(x * mask, saved: .mask(mask))
  }

  /// `dx = dy ⊙ mask` in training mode, `dy` at inference.
  static func dropoutBackward<Scalar: TensorScalar>(_ dy: Tensor<Scalar>, saved: SavedForBackward<Scalar>)
    -> OpGradients<Scalar>
  {
    if case .mask(let mask) = saved { return OpGradients(inputs: [dy * mask]) }
    return OpGradients(inputs: [dy])
  }

  /// Joins the inputs along a per-sample axis (negative counts from the end).
  static func concatenate<Scalar: TensorScalar>(_ inputs: [Tensor<Scalar>], axis: Int) -> Tensor<Scalar> {
    Tensor.concatenate(inputs, axis: axis < 0 ? axis + inputs[0].rank : axis + 1)
  }

  /// The adjoint of concatenation: `dy` split along the axis into the inputs' extents.
  static func concatenateBackward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, axis given: Int, inputs: [Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    let axis = given < 0 ? given + dy.rank : given + 1
    let sizes = inputs.map { $0.shape[axis] }
    let outer = dy.shape[..<axis].reduce(1, *)
    let inner = dy.shape[(axis + 1)...].reduce(1, *)
    let total = dy.shape[axis]
    var offset = 0
    return OpGradients(
      inputs: sizes.map { size in
        var shape = dy.shape
        shape[axis] = size
        var scalars = [Scalar]()
        scalars.reserveCapacity(outer * size * inner)
        for o in 0..<outer {
          let start = (o * total + offset) * inner
          scalars.append(contentsOf: dy.scalars[start..<(start + size * inner)])
        }
        offset += size
        return Tensor(shape: shape, scalars: scalars)
      })
  }
}
