import Tensor

/// Dense: `y = x·kernel + bias` on the last axis, `kernel` of shape `(in, units)`; leading axes
/// are batch-like.
enum Dense {
  @inline(__always)
  static func forward<Scalar: TensorScalar>(_ x: Tensor<Scalar>, parameters: [String: Tensor<Scalar>])
    -> Tensor<Scalar>
  {
    Tensor.dense(x, weight: parameters["kernel"]!, bias: parameters["bias"])
  }

  /// With `X`, `dY` the input and output gradient flattened to rows: `dkernel = Xᵀ·dY`,
  /// `dbias = Σ_rows dY`, `dx = dY·kernelᵀ`.
  static func backward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, _ dy: Tensor<Scalar>, parameters: [String: Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    let kernel = parameters["kernel"]!
    let rows = x.count / kernel.shape[0]
    let x2 = x.reshaped([rows, kernel.shape[0]])
    let dy2 = dy.reshaped([rows, kernel.shape[1]])
    var gradients = ["kernel": Tensor.matmul(x2, dy2, transposeA: true)]
    if parameters["bias"] != nil { gradients["bias"] = dy2.reduce(.sum, axis: 0) }
    return OpGradients(
      inputs: [Tensor.matmul(dy2, kernel, transposeB: true).reshaped(x.shape)], parameters: gradients)
  }
}
