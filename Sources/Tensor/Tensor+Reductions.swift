/// How ``Tensor/reduce(_:axis:keepingDimension:)`` combines elements.
public enum Reduction: String, Sendable, Hashable, Codable, CaseIterable {
  case sum, mean
  /// The largest element; NaN if any element is NaN.
  case max
  /// The smallest element; NaN if any element is NaN.
  case min
}

extension Tensor {
  /// Reduces along one axis (negative counts from the end).
  ///
  /// Sums accumulate in the tensor's own precision, in index order. Reducing an axis of extent 0
  /// gives 0 for `sum`, NaN for `mean`, −∞/+∞ for `max`/`min`.
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func reduce(_ reduction: Reduction, axis: Int, keepingDimension: Bool = false) -> Tensor {
    let axis = axis < 0 ? axis + rank : axis
    precondition(axis >= 0 && axis < rank, "axis \(axis) for shape \(shape)")
    let outer = shape[..<axis].reduce(1, *)
    let extent = shape[axis]
    let inner = shape[(axis + 1)...].reduce(1, *)
    let initial: Scalar
    switch reduction {
    case .sum, .mean: initial = 0
    case .max: initial = -.infinity
    case .min: initial = .infinity
    }
    var result = [Scalar](repeating: initial, count: outer * inner)
    scalars.withUnsafeBufferPointer { x in
      result.withUnsafeMutableBufferPointer { r in
        for o in 0..<outer {
          for e in 0..<extent {
            let base = (o &* extent &+ e) &* inner
            for i in 0..<inner {
              let value = x[base &+ i]
              let slot = o &* inner &+ i
              switch reduction {
              case .sum, .mean: r[slot] += value
              case .max: r[slot] = BinaryFunction.maximum(r[slot], value)
              case .min: r[slot] = r[slot].isNaN || value.isNaN ? .nan : Swift.min(r[slot], value)
              }
            }
          }
        }
        if reduction == .mean {
          for slot in r.indices { r[slot] /= Scalar(extent) }
        }
      }
    }
    var newShape = shape
    if keepingDimension { newShape[axis] = 1 } else { newShape.remove(at: axis) }
    return Tensor(shape: newShape, scalars: result)
  }

  /// The sum of all elements (0 when empty).
  public func sum() -> Scalar { scalars.reduce(0, +) }

  /// The index of the largest element of each row along the last axis (the first on ties; NaN
  /// never wins): shape `(…, K)` → `(…)` as `[Int]` in row-major order.
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func argmaxLastAxis() -> [Int] {
    precondition(rank >= 1 && shape[rank - 1] > 0, "argmax over an empty last axis of \(shape)")
    let width = shape[rank - 1]
    return scalars.withUnsafeBufferPointer { x in
      (0..<(count / width)).map { row in
        var best = 0
        var bestValue = -Scalar.infinity
        for j in 0..<width where x[row &* width &+ j] > bestValue {
          bestValue = x[row &* width &+ j]
          best = j
        }
        return best
      }
    }
  }

  /// The softmax over the last axis, `e^{x_i − max x} / Σ_j e^{x_j − max x}` (shifted so it never
  /// overflows). A row containing NaN becomes all NaN; a row of −∞ becomes NaN.
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func softmaxLastAxis() -> Tensor {
    precondition(rank >= 1, "softmax of a scalar")
    let width = shape[rank - 1]
    var result = self
    guard width > 0 else { return result }
    result.scalars.withUnsafeMutableBufferPointer { x in
      Tensor.softmax(UnsafeBufferPointer(x), count: x.count, width: width, into: x)
    }
    return result
  }
}
