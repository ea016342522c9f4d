import Tensor

/// Max and average pooling, global average pooling, and the window-element selections max
/// pooling decomposes into.
enum Pooling {
  @inline(__always)
  static func forward<Scalar: TensorScalar>(_ x: Tensor<Scalar>, attributes a: Pool2DAttributes) -> Tensor<
    Scalar
  > {
    Tensor.pool2d(
      x, mode: a.mode, size: (a.size[0], a.size[1]), strides: (a.strides[0], a.strides[1]), padding: a.padding
    )
  }

  /// Average pooling spreads each output's gradient evenly over the inputs its window covers;
  /// max pooling gives it to the maximum, the `tie` rule choosing among equal maxima.
  static func backward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, _ y: Tensor<Scalar>, _ dy: Tensor<Scalar>, attributes a: Pool2DAttributes,
    tie: MaxTieRule
  ) -> OpGradients<Scalar> {
    OpGradients(inputs: [
      Tensor.pool2dBackward(
        input: x, output: y, outputGradient: dy, mode: a.mode, size: (a.size[0], a.size[1]),
        strides: (a.strides[0], a.strides[1]), padding: a.padding, tie: tie)
    ])
  }

  /// The mean over height and width: `(N, H, W, C)` → `(N, C)`.
  @inline(__always)
  static func globalAverageForward<Scalar: TensorScalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    Tensor.globalAveragePool2d(x)
  }

  /// Each input position gets its channel's output gradient divided by `H·W`.
  static func globalAverageBackward<Scalar: TensorScalar>(_ x: Tensor<Scalar>, _ dy: Tensor<Scalar>)
    -> OpGradients<Scalar>
  {
    OpGradients(inputs: [Tensor.globalAveragePool2dBackward(outputGradient: dy, inputShape: x.shape)])
  }

  /// One element of every pooling window (a step of max pooling's decomposition; no backward
  /// pass): output `(oh, ow, c)` is the window element `(row, column)` clamped into the input.
  static func windowElement<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, attributes a: Pool2DAttributes, row: Int, column: Int
  ) -> Tensor<Scalar> {
    let batch = x.shape[0]
    let window = a.window(input: Array(x.shape.dropFirst()))!
    var output = Tensor<Scalar>(zeros: [batch, window.outputHeight, window.outputWidth, x.shape[3]])
    output.withUnsafeMutableScalars { out in
      x.scalars.withUnsafeBufferPointer {
        Tensor<Scalar>.windowElement(
          $0, images: batch, channels: x.shape[3], window: window, row: row, column: column, into: out)
      }
    }
    return output
  }
}
