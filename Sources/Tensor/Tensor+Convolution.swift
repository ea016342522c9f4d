extension Tensor {
  /// Copies the receptive fields of images `first..<first+count` of a channels-last batch into
  /// rows of `columns`: row `(n, oh, ow)` holds the window in `(kh, kw, c)` order, zeros where it
  /// overhangs the padded border. With a kernel laid out `(kH, kW, Cin, Cout)` the convolution is
  /// then one GEMM.
  /// - Complexity: O(count · outH · outW · kH · kW · C).
  static func im2col(
    _ input: UnsafeBufferPointer<Scalar>, channels: Int, window: Window2D, first: Int, count: Int,
    into columns: UnsafeMutableBufferPointer<Scalar>
  ) {
    let c = channels
    let rowLength = window.kernelHeight * window.kernelWidth * c
    let imageSize = window.inputHeight * window.inputWidth * c
    let spanLength = window.kernelWidth &* c
    var row = 0
    for n in first..<(first + count) {
      let image = n &* imageSize
      for oh in 0..<window.outputHeight {
        for ow in 0..<window.outputWidth {
          var target = row &* rowLength
          let left = ow &* window.strideWidth &- window.padLeft
          let spanInside = left >= 0 && left &+ window.kernelWidth <= window.inputWidth
          for kh in 0..<window.kernelHeight {
            let ih = oh &* window.strideHeight &- window.padTop &+ kh
            if ih < 0 || ih >= window.inputHeight {
              (columns.baseAddress! + target).update(repeating: 0, count: spanLength)
            } else if spanInside {
              // For one kernel row the window covers kW consecutive pixels: one contiguous copy.
              // A plain loop: spans are short (kW pixels of a few channels) and a copy call per
              // span cost more than the copy.
              let from = input.baseAddress! + (image &+ (ih &* window.inputWidth &+ left) &* c)
              let to = columns.baseAddress! + target
              var k = 0
              while k < spanLength {
                to[k] = from[k]
                k &+= 1
              }
            } else {
              for kw in 0..<window.kernelWidth {
                let iw = left &+ kw
                let slot = columns.baseAddress! + (target &+ kw &* c)
                if iw >= 0 && iw < window.inputWidth {
                  slot.update(
                    from: input.baseAddress! + (image &+ (ih &* window.inputWidth &+ iw) &* c), count: c)
                } else {
                  slot.update(repeating: 0, count: c)
                }
              }
            }
            target &+= spanLength
          }
          row &+= 1
        }
      }
    }
  }

  /// 2-D convolution (cross-correlation, as in Keras) of a channels-last batch.
  ///
  /// Implemented as im2col + one GEMM per chunk of images (chunks keep the column buffer near
  /// 1 MiB); a 1×1 kernel with unit strides skips im2col entirely.
  /// - Parameters:
  ///   - input: `(N, H, W, Cin)`.
  ///   - kernel: `(kH, kW, Cin, Cout)`, Keras's layout.
  ///   - bias: `(Cout)` or nil.
  /// - Returns: `(N, outH, outW, Cout)` per ``Window2D``.
  /// - Complexity: O(N · outH · outW · kH · kW · Cin · Cout).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func conv2d(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil,
    strides: (height: Int, width: Int) = (1, 1), padding: Padding = .valid
  ) -> Tensor {
    precondition(input.rank == 4 && kernel.rank == 4, "conv2d: input \(input.shape), kernel \(kernel.shape)")
    precondition(
      input.shape[3] == kernel.shape[2], "conv2d: input channels \(input.shape[3]) ≠ kernel \(kernel.shape)")
    guard
      let window = Window2D(
        input: (input.shape[1], input.shape[2]), kernel: (kernel.shape[0], kernel.shape[1]),
        strides: strides, padding: padding)
    else { preconditionFailure("conv2d: kernel \(kernel.shape) does not fit input \(input.shape)") }
    let batch = input.shape[0]
    let outChannels = kernel.shape[3]
    var output = Tensor(uninitialized: [batch, window.outputHeight, window.outputWidth, outChannels])
    var columns = [Scalar](
      repeating: 0, count: conv2dColumnsCapacity(images: batch, channels: input.shape[3], window: window))
    output.scalars.withUnsafeMutableBufferPointer { out in
      input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { k in
          columns.withUnsafeMutableBufferPointer { cols in
            conv2d(
              x, images: batch, channels: input.shape[3], window: window, kernel: k, outChannels: outChannels,
              columns: cols, into: out, beta: 0)
          }
        }
      }
    }
    if let bias { output.addRowVector(bias) }
    return output
  }
}
