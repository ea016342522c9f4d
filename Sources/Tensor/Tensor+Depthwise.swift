extension Tensor {
  /// A depthwise 2-D convolution of a channels-last batch: one group per input channel, each with
  /// `multiplier` filters. Output channel `f` of a pixel is
  /// `bias[f] + Σ_{r,s} x[row r, column s, channel f / multiplier] · kernel[(r·kW + s)·F + f]`
  /// over the window's taps inside the input (padding is zeros), with `F = channels ·
  /// multiplier` and the kernel in Keras's `(kH, kW, 1, F)` layout. `window` is the undilated
  /// kernel's.
  ///
  /// The grouped convolution written as an ordinary one (zeros for the other channels) costs
  /// `channels` times as many multiplications; this visits each tap of each filter once, the
  /// channels innermost (contiguous, vectorized). Sums taps in row-major order, so it may round
  /// differently from a GEMM.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func depthwiseConv2d(
    _ input: UnsafeBufferPointer<Scalar>, images: Int, channels: Int, multiplier: Int, window: Window2D,
    kernel: UnsafeBufferPointer<Scalar>, bias: UnsafeBufferPointer<Scalar>?,
    into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    let filters = channels * multiplier
    precondition(
      input.count >= images * window.inputHeight * window.inputWidth * channels
        && output.count >= images * window.outputHeight * window.outputWidth * filters
        && kernel.count == window.kernelHeight * window.kernelWidth * filters
        && (bias.map { $0.count == filters } ?? true),
      "depthwiseConv2d buffers do not fit \(images) images")
    guard images > 0, filters > 0, window.outputHeight > 0, window.outputWidth > 0 else { return }
    let x = input.baseAddress!
    let k = kernel.baseAddress!
    let imageSize = window.inputHeight &* window.inputWidth &* channels
    var out = output.baseAddress!
    for n in 0..<images {
      let image = x + n &* imageSize
      for oh in 0..<window.outputHeight {
        let rows = window.inputRows(forOutputRow: oh)
        let top = oh &* window.strideHeight &- window.padTop
        for ow in 0..<window.outputWidth {
          let columns = window.inputColumns(forOutputColumn: ow)
          let left = ow &* window.strideWidth &- window.padLeft
          if let b = bias?.baseAddress {
            for f in 0..<filters { out[f] = b[f] }
          } else {
            for f in 0..<filters { out[f] = 0 }
          }
          for r in rows {
            for s in columns {
              let pixel = image + (r &* window.inputWidth &+ s) &* channels
              let taps = k + ((r &- top) &* window.kernelWidth &+ (s &- left)) &* filters
              if multiplier == 1 {
                var c = 0
                while c < channels {
                  out[c] += pixel[c] * taps[c]
                  c &+= 1
                }
              } else {
                for c in 0..<channels {
                  let value = pixel[c]
                  let base = c &* multiplier
                  for j in 0..<multiplier { out[base &+ j] += value * taps[base &+ j] }
                }
              }
            }
          }
          out += filters
        }
      }
    }
  }
}
