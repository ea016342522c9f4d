/// How a pooling window combines its elements.
public enum PoolingMode: String, Sendable, Hashable, Codable, CaseIterable {
  /// The largest element; padding never wins (it acts as −∞). NaN propagates.
  case max
  /// The mean of the elements inside the input; padding is not counted (TensorFlow's rule).
  case average
}

extension Tensor {
  /// 2-D max or average pooling of a channels-last batch `(N, H, W, C)`.
  /// - Parameters:
  ///   - size: the window; `strides` defaults to it (Keras's default).
  /// - Returns: `(N, outH, outW, C)` per ``Window2D``.
  /// - Complexity: O(N · outH · outW · kH · kW · C).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func pool2d(
    _ input: Tensor, mode: PoolingMode, size: (height: Int, width: Int),
    strides: (height: Int, width: Int)? = nil, padding: Padding = .valid
  ) -> Tensor {
    precondition(input.rank == 4, "pool2d needs (N, H, W, C), got \(input.shape)")
    guard
      let window = Window2D(
        input: (input.shape[1], input.shape[2]), kernel: size, strides: strides ?? size, padding: padding)
    else { preconditionFailure("pool2d: window \(size) does not fit input \(input.shape)") }
    let (batch, channels) = (input.shape[0], input.shape[3])
    var output = Tensor(uninitialized: [batch, window.outputHeight, window.outputWidth, channels])
    output.scalars.withUnsafeMutableBufferPointer { out in
      input.scalars.withUnsafeBufferPointer { x in
        pool2d(x, images: batch, channels: channels, window: window, mode: mode, into: out)
      }
    }
    return output
  }

  /// The mean over height and width of a channels-last batch: `(N, H, W, C)` → `(N, C)`.
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func globalAveragePool2d(_ input: Tensor) -> Tensor {
    precondition(input.rank == 4, "globalAveragePool2d needs (N, H, W, C), got \(input.shape)")
    let (batch, positions, channels) = (input.shape[0], input.shape[1] * input.shape[2], input.shape[3])
    var output = Tensor(uninitialized: [batch, channels])
    output.scalars.withUnsafeMutableBufferPointer { out in
      input.scalars.withUnsafeBufferPointer { x in
        globalAveragePool2d(x, images: batch, positions: positions, channels: channels, into: out)
      }
    }
    return output
  }
}
