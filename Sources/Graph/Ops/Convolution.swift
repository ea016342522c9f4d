import Tensor

/// Conv2D: cross-correlation of a channels-last batch with a `(kH, kW, Cin, Cout)` kernel, plus
/// a bias per output channel (Keras's layout and padding rules, docs/architecture.md).
enum Convolution {
  @inline(__always)
  static func forward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, attributes a: Conv2DAttributes, parameters: [String: Tensor<Scalar>]
  ) -> Tensor<Scalar> {
    Tensor.conv2d(
      x, kernel: parameters["kernel"]!, bias: parameters["bias"], strides: (a.strides[0], a.strides[1]),
      padding: a.padding)
  }

  /// The input, kernel and bias gradients of ``forward(_:attributes:parameters:)``
  /// (`Tensor.conv2dBackward`: the adjoint im2col/GEMM pair).
  static func backward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, _ dy: Tensor<Scalar>, attributes a: Conv2DAttributes,
    parameters: [String: Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    let result = Tensor.conv2dBackward(
      input: x, kernel: parameters["kernel"]!, outputGradient: dy, strides: (a.strides[0], a.strides[1]),
      padding: a.padding)
    var gradients = ["kernel": result.kernel]
    if parameters["bias"] != nil { gradients["bias"] = result.bias }
    return OpGradients(inputs: [result.input], parameters: gradients)
  }
}
