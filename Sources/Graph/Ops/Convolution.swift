import Tensor

/// Conv2D: cross-correlation of a channels-last batch with a `(kH, kW, Cin/groups, Cout)` kernel,
/// plus a bias per output channel (Keras's layout and padding rules, docs/architecture.md).
///
/// A depthwise convolution (one group per input channel, undilated) runs channel by channel
/// (`Tensor.depthwiseConv2d`); another grouped or a dilated one as the ordinary convolution with
/// the equivalent kernel
/// (``Conv2DAttributes/denseKernel(_:inputChannels:)``: zeros for the other groups' channels
/// and between dilated taps), and its kernel gradient is that kernel's gradient mapped back.
enum Convolution {
  @inline(__always)
  static func forward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, attributes a: Conv2DAttributes, parameters: [String: Tensor<Scalar>]
  ) -> Tensor<Scalar> {
    let kernel = parameters["kernel"]!
    let channels = x.shape[3]
    if a.groups > 1, a.groups == channels, a.dilation.allSatisfy({ $0 == 1 }),
      let window = a.window(input: [x.shape[1], x.shape[2]])
    {
      // One group per channel (MobileNets' depthwise layers): each tap once, as the simulator
      // computes it, instead of the dense equivalent's `channels` times as many.
      let images = x.shape[0]
      var y = Tensor<Scalar>(zeros: [images, window.outputHeight, window.outputWidth, a.filters])
      x.scalars.withUnsafeBufferPointer { input in
        kernel.scalars.withUnsafeBufferPointer { k in
          withOptionalBuffer(parameters["bias"]?.scalars) { bias in
            y.withUnsafeMutableScalars { out in
              Tensor.depthwiseConv2d(
                input, images: images, channels: channels, multiplier: a.filters / channels, window: window,
                kernel: k, bias: bias, into: out)
            }
          }
        }
      }
      return y
    }
    return Tensor.conv2d(
      x, kernel: a.isDense ? kernel : a.denseKernel(kernel, inputChannels: x.shape[3]),
      bias: parameters["bias"],
      strides: (a.strides[0], a.strides[1]), padding: a.padding)
  }

  /// The input, kernel and bias gradients of ``forward(_:attributes:parameters:)``
  /// (`Tensor.conv2dBackward`: the adjoint im2col/GEMM pair).
  static func backward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, _ dy: Tensor<Scalar>, attributes a: Conv2DAttributes,
    parameters: [String: Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    let kernel = parameters["kernel"]!
    let channels = x.shape[3]
    let result = Tensor.conv2dBackward(
      input: x, kernel: a.isDense ? kernel : a.denseKernel(kernel, inputChannels: channels),
      outputGradient: dy,
      strides: (a.strides[0], a.strides[1]), padding: a.padding)
    var gradients = [
      "kernel": a.isDense ? result.kernel : a.compactKernelGradient(result.kernel, inputChannels: channels)
    ]
    if parameters["bias"] != nil { gradients["bias"] = result.bias }
    return OpGradients(inputs: [result.input], parameters: gradients)
  }
}

extension Conv2DAttributes {
  /// For each weight of the `(kH, kW, Cin/groups, filters)` kernel, its position in the
  /// equivalent ordinary kernel `(spanned kH, spanned kW, Cin, filters)`.
  private func densePositions(inputChannels: Int) -> [Int] {
    let groupChannels = inputChannels / groups
    let groupFilters = filters / groups
    let spanned = spannedKernelSize
    var positions = [Int]()
    positions.reserveCapacity(kernelSize[0] * kernelSize[1] * groupChannels * filters)
    for kh in 0..<kernelSize[0] {
      for kw in 0..<kernelSize[1] {
        let tap = (kh * dilation[0]) * spanned[1] + kw * dilation[1]
        for c in 0..<groupChannels {
          for f in 0..<filters {
            let channel = (f / groupFilters) * groupChannels + c
            positions.append((tap * inputChannels + channel) * filters + f)
          }
        }
      }
    }
    return positions
  }

  /// The ordinary kernel `(spanned kH, spanned kW, Cin, filters)` computing the same
  /// convolution as `kernel` under these groups and dilation.
  public func denseKernel<Scalar: TensorScalar>(_ kernel: Tensor<Scalar>, inputChannels: Int) -> Tensor<
    Scalar
  > {
    let spanned = spannedKernelSize
    var dense = [Scalar](repeating: 0, count: spanned[0] * spanned[1] * inputChannels * filters)
    for (weight, position) in zip(kernel.scalars, densePositions(inputChannels: inputChannels)) {
      dense[position] = weight
    }
    return Tensor(shape: spanned + [inputChannels, filters], scalars: dense)
  }

  /// The adjoint of ``denseKernel(_:inputChannels:)``: the gradient of the grouped, dilated
  /// kernel from that of its ordinary form.
  public func compactKernelGradient<Scalar: TensorScalar>(_ dense: Tensor<Scalar>, inputChannels: Int)
    -> Tensor<Scalar>
  {
    let positions = densePositions(inputChannels: inputChannels)
    return Tensor(
      shape: kernelSize + [inputChannels / groups, filters], scalars: positions.map { dense.scalars[$0] })
  }
}
