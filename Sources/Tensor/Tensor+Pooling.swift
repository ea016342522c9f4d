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
    var output = Tensor(zeros: [batch, window.outputHeight, window.outputWidth, channels])
    output.scalars.withUnsafeMutableBufferPointer { out in
      input.scalars.withUnsafeBufferPointer { x in
        var target = 0
        for n in 0..<batch {
          let image = n &* window.inputHeight &* window.inputWidth &* channels
          for oh in 0..<window.outputHeight {
            let rows = window.inputRows(forOutputRow: oh)
            for ow in 0..<window.outputWidth {
              let columns = window.inputColumns(forOutputColumn: ow)
              for c in 0..<channels {
                var accumulator: Scalar = mode == .max ? -.infinity : 0
                for ih in rows {
                  for iw in columns {
                    let value = x[image &+ (ih &* window.inputWidth &+ iw) &* channels &+ c]
                    switch mode {
                    case .max: accumulator = BinaryFunction.maximum(accumulator, value)
                    case .average: accumulator += value
                    }
                  }
                }
                if mode == .average { accumulator /= Scalar(rows.count * columns.count) }
                out[target] = accumulator
                target &+= 1
              }
            }
          }
        }
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
    var output = Tensor(zeros: [batch, channels])
    output.scalars.withUnsafeMutableBufferPointer { out in
      input.scalars.withUnsafeBufferPointer { x in
        for n in 0..<batch {
          for p in 0..<positions {
            let base = (n &* positions &+ p) &* channels
            for c in 0..<channels { out[n &* channels &+ c] += x[base &+ c] }
          }
          for c in 0..<channels { out[n &* channels &+ c] /= Scalar(positions) }
        }
      }
    }
    return output
  }
}
