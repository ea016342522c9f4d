extension Tensor {
  /// The elements `range` of the first axis (a batch of rows, images, …).
  /// - Complexity: O(elements copied).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func rows(_ range: Range<Int>) -> Tensor {
    precondition(
      rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of \(shape)")
    let width = shape.dropFirst().reduce(1, *)
    return Tensor(
      shape: [range.count] + shape.dropFirst(),
      scalars: Array(scalars[(range.lowerBound * width)..<(range.upperBound * width)]))
  }

  /// The listed elements of the first axis, in the order given (a shuffled mini-batch).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func gatherRows(_ indices: [Int]) -> Tensor {
    precondition(rank >= 1, "gatherRows needs rank ≥ 1")
    let width = shape.dropFirst().reduce(1, *)
    var result = [Scalar]()
    result.reserveCapacity(indices.count * width)
    for index in indices {
      precondition(index >= 0 && index < shape[0], "row \(index) out of \(shape[0])")
      result.append(contentsOf: scalars[(index * width)..<((index + 1) * width)])
    }
    return Tensor(shape: [indices.count] + shape.dropFirst(), scalars: result)
  }

  /// Axes reordered: result axis `i` is this tensor's axis `axes[i]` (NHWC → NCHW is `[0, 3, 1, 2]`).
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func permuted(_ axes: [Int]) -> Tensor {
    precondition(axes.sorted() == Array(0..<rank), "axes \(axes) are not a permutation of 0..<\(rank)")
    let newShape = axes.map { shape[$0] }
    let oldStrides = Tensor.strides(of: shape)
    let strideInOld = axes.map { oldStrides[$0] }
    var result = [Scalar](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: rank)
    scalars.withUnsafeBufferPointer { source in
      for flat in 0..<count {
        var offset = 0
        for axis in 0..<rank { offset &+= index[axis] &* strideInOld[axis] }
        result[flat] = source[offset]
        var axis = rank - 1
        while axis >= 0 {
          index[axis] += 1
          if index[axis] < newShape[axis] { break }
          index[axis] = 0
          axis -= 1
        }
      }
    }
    return Tensor(shape: newShape, scalars: result)
  }

  /// Joins tensors along `axis`; every other dimension must agree.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
    precondition(!parts.isEmpty, "nothing to concatenate")
    let rank = parts[0].rank
    precondition(axis >= 0 && axis < rank, "axis \(axis) for rank \(rank)")
    for part in parts {
      var expected = parts[0].shape
      if part.rank == rank { expected[axis] = part.shape[axis] }
      precondition(
        part.shape == expected, "cannot concatenate \(part.shape) with \(parts[0].shape) on axis \(axis)")
    }
    let outer = parts[0].shape[..<axis].reduce(1, *)
    let inner = parts[0].shape[(axis + 1)...].reduce(1, *)
    var shape = parts[0].shape
    shape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
    var result = [Scalar]()
    result.reserveCapacity(shape.reduce(1, *))
    for o in 0..<outer {
      for part in parts {
        let block = part.shape[axis] * inner
        result.append(contentsOf: part.scalars[(o * block)..<((o + 1) * block)])
      }
    }
    return Tensor(shape: shape, scalars: result)
  }
}
