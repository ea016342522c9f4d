/// Keras/TensorFlow padding modes.
public enum Padding: String, Sendable, Hashable, Codable, CaseIterable {
  /// No padding: windows lie wholly inside the input; `out = ⌊(in − k)/s⌋ + 1`.
  case valid
  /// `out = ⌈in/s⌉`; the total padding `max((out−1)s + k − in, 0)` is split with the smaller half
  /// before (top/left) and the larger after, as TensorFlow does.
  case same
}

/// The geometry of a 2-D sliding window over channels-last images: kernel, strides, padding, and
/// the derived output size and leading padding.
public struct Window2D: Sendable, Hashable, Codable {
  public let kernelHeight: Int, kernelWidth: Int
  public let strideHeight: Int, strideWidth: Int
  public let padding: Padding
  public let inputHeight: Int, inputWidth: Int
  public let outputHeight: Int, outputWidth: Int
  /// Padding rows above / columns left of the input.
  public let padTop: Int, padLeft: Int

  /// - Returns: nil when the window does not fit (`valid` with a kernel larger than the input,
  ///   or a non-positive size or stride).
  public init?(
    input: (height: Int, width: Int), kernel: (height: Int, width: Int),
    strides: (height: Int, width: Int), padding: Padding
  ) {
    guard input.height > 0, input.width > 0, kernel.height > 0, kernel.width > 0,
      strides.height > 0, strides.width > 0
    else { return nil }
    func along(_ size: Int, _ k: Int, _ s: Int) -> (out: Int, before: Int)? {
      guard size > 0, k > 0, s > 0 else { return nil }
      switch padding {
      case .valid:
        return size >= k ? ((size - k) / s + 1, 0) : nil
      case .same:
        let out = (size + s - 1) / s
        let total = max((out - 1) * s + k - size, 0)
        return (out, total / 2)
      }
    }
    guard let rows = along(input.height, kernel.height, strides.height),
      let columns = along(input.width, kernel.width, strides.width)
    else { return nil }
    kernelHeight = kernel.height
    kernelWidth = kernel.width
    strideHeight = strides.height
    strideWidth = strides.width
    self.padding = padding
    inputHeight = input.height
    inputWidth = input.width
    outputHeight = rows.out
    outputWidth = columns.out
    padTop = rows.before
    padLeft = columns.before
  }

  /// The input rows output row `oh`'s window covers, clipped to the input (padding excluded).
  @inlinable
  public func inputRows(forOutputRow oh: Int) -> Range<Int> {
    let top = oh * strideHeight - padTop
    return max(top, 0)..<min(top + kernelHeight, inputHeight)
  }

  /// The input columns output column `ow`'s window covers, clipped to the input.
  @inlinable
  public func inputColumns(forOutputColumn ow: Int) -> Range<Int> {
    let left = ow * strideWidth - padLeft
    return max(left, 0)..<min(left + kernelWidth, inputWidth)
  }
}
