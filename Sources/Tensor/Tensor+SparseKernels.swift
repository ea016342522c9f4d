/// Kernels that add an affine map's linear part applied to a mostly-zero input, at a cost in
/// proportion to the input's nonzero entries: each nonzero input element adds its row of the
/// weights (its fan-out) to the outputs it reaches. A simulator feeds them the spikes of a step,
/// where a dense product would multiply every zero as well.
///
/// Each output is a sum in a different order than a GEMM's, so the results agree with
/// ``dense(_:rows:weight:inputWidth:outputWidth:into:beta:)`` and
/// ``conv2d(_:images:channels:window:kernel:outChannels:columns:into:beta:)`` (β = 1) to
/// rounding, not bit for bit.
extension Tensor {
  /// `output += input · weight` for `rows` rows of `inputWidth`, visiting only the nonzero
  /// entries of `input`.
  /// - Complexity: O(rows × inputWidth + nonzeros × outputWidth).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func denseAddingNonzeros(
    _ input: UnsafeBufferPointer<Scalar>, rows: Int, weight: UnsafeBufferPointer<Scalar>, inputWidth: Int,
    outputWidth: Int, into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    precondition(
      input.count >= rows * inputWidth && output.count >= rows * outputWidth
        && weight.count == inputWidth * outputWidth, "dense buffers too small for \(rows) rows")
    guard rows > 0, inputWidth > 0, outputWidth > 0 else { return }
    let x = input.baseAddress!
    let w = weight.baseAddress!
    let y = output.baseAddress!
    // Weight rows in blocks of about 64 KiB, each visited by every row before the next, so that
    // a block is read from memory once rather than once per row.
    let block = Swift.max(1, (1 << 14) / outputWidth)
    for first in stride(from: 0, to: inputWidth, by: block) {
      let last = Swift.min(first + block, inputWidth)
      for row in 0..<rows {
        let inputRow = x + row * inputWidth
        let outputRow = y + row * outputWidth
        for i in first..<last where inputRow[i] != 0 {
          addScaled(inputRow[i], w + i * outputWidth, to: outputRow, count: outputWidth)
        }
      }
    }
  }

  /// `output += conv(input, kernel)` (no bias) for `images` channels-last images, visiting only
  /// the nonzero entries of `input`: each adds its kernel row to every output position whose
  /// window covers it.
  /// - Parameter kernel: `(kH, kW, channels, outChannels)`.
  /// - Complexity: O(input + nonzeros × kH × kW × outChannels).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func conv2dAddingNonzeros(
    _ input: UnsafeBufferPointer<Scalar>, images: Int, channels: Int, window: Window2D,
    kernel: UnsafeBufferPointer<Scalar>, outChannels: Int, into output: UnsafeMutableBufferPointer<Scalar>
  ) {
    let inputSize = window.inputHeight * window.inputWidth * channels
    let outputSize = window.outputHeight * window.outputWidth * outChannels
    precondition(
      input.count >= images * inputSize && output.count >= images * outputSize
        && kernel.count == window.kernelHeight * window.kernelWidth * channels * outChannels,
      "conv2d buffers too small for \(images) images")
    guard images > 0, channels > 0, outChannels > 0 else { return }
    let x = input.baseAddress!
    let k = kernel.baseAddress!
    let y = output.baseAddress!
    // Output rows covering input row h: oh with oh·s − pad ≤ h < oh·s − pad + kH.
    func outputs(covering position: Int, kernel size: Int, stride: Int, pad: Int, limit: Int) -> Range<Int> {
      let shifted = position + pad
      let first = shifted >= size ? (shifted - size) / stride + 1 : 0
      return first..<min(shifted / stride + 1, limit)
    }
    for image in 0..<images {
      let imageInput = x + image * inputSize
      let imageOutput = y + image * outputSize
      for h in 0..<window.inputHeight {
        let rows = outputs(
          covering: h, kernel: window.kernelHeight, stride: window.strideHeight, pad: window.padTop,
          limit: window.outputHeight)
        for w in 0..<window.inputWidth {
          let columns = outputs(
            covering: w, kernel: window.kernelWidth, stride: window.strideWidth, pad: window.padLeft,
            limit: window.outputWidth)
          let pixel = imageInput + (h * window.inputWidth + w) * channels
          for c in 0..<channels where pixel[c] != 0 {
            for oh in rows {
              let kh = h + window.padTop - oh * window.strideHeight
              for ow in columns {
                let kw = w + window.padLeft - ow * window.strideWidth
                addScaled(
                  pixel[c], k + ((kh * window.kernelWidth + kw) * channels + c) * outChannels,
                  to: imageOutput + (oh * window.outputWidth + ow) * outChannels, count: outChannels)
              }
            }
          }
        }
      }
    }
  }

  /// The number of nonzero entries (NaN counts as nonzero).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func nonzeroCount(_ values: UnsafeBufferPointer<Scalar>) -> Int {
    guard let p = values.baseAddress else { return 0 }
    // Counted in Int32 blocks in a plain `while`, the form LLVM vectorizes.
    var total = 0
    var base = 0
    while base < values.count {
      let end = base &+ Swift.min(values.count &- base, 1 << 30)
      var count: Int32 = 0
      var i = base
      while i < end {
        count &+= p[i] != 0 ? 1 : 0
        i &+= 1
      }
      total &+= Int(count)
      base = end
    }
    return total
  }

  /// `y[i] += a · x[i]` for `count` entries, as a loop LLVM vectorizes.
  @inline(__always)
  static func addScaled(
    _ a: Scalar, _ x: UnsafePointer<Scalar>, to y: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    var i = 0
    while i < count {
      y[i] += a * x[i]
      i &+= 1
    }
  }
}
