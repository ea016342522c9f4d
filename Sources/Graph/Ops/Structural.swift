import Tensor

/// The ops that move values without computing new ones — Flatten, Reshape, Dropout, Add,
/// Concatenate — with their backward passes.
enum Structural {
  /// Reshape to `[batch] + target`, a `-1` in `target` taking what is left.
  static func reshape<Scalar: TensorScalar>(_ x: Tensor<Scalar>, to target: [Int]) -> Tensor<Scalar> {
    let batch = x.shape[0]
    let perSample = x.count / max(batch, 1)
    let known = target.filter { $0 != -1 }.reduce(1, *)
    return x.reshaped([batch] + target.map { $0 == -1 ? perSample / known : $0 })
  }

  /// Training-mode Dropout: each element kept with probability `1 − rate` and scaled by
  /// `1/(1 − rate)`; the mask (rounded to half when training in half precision) is kept for the
  /// backward pass.
  static func dropoutForward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, rate: Double, roundsToHalf: Bool, random: inout SplitMix64
  ) -> DifferentiableOutput<Scalar> {
    let keep = 1 - Scalar(rate)
    var mask = Tensor<Scalar>(zeros: x.shape)
    mask.withUnsafeMutableScalars { m in
      for i in m.indices { m[i] = Scalar.random(in: 0..<1, using: &random) < keep ? 1 / keep : 0 }
    }
    if roundsToHalf { mask.roundToHalf() }
    return DifferentiableOutput(x * mask, saved: .mask(mask))
  }

  /// `dx = dy ⊙ mask` in training mode, `dy` at inference.
  static func dropoutBackward<Scalar: TensorScalar>(_ dy: Tensor<Scalar>, saved: SavedForBackward<Scalar>)
    -> OpGradients<Scalar>
  {
    if case .mask(let mask) = saved { return OpGradients(inputs: [dy * mask]) }
    return OpGradients(inputs: [dy])
  }

  /// Joins the inputs along a per-sample axis (negative counts from the end).
  static func concatenate<Scalar: TensorScalar>(_ inputs: [Tensor<Scalar>], axis: Int) -> Tensor<Scalar> {
    Tensor.concatenate(inputs, axis: axis < 0 ? axis + inputs[0].rank : axis + 1)
  }

  /// The adjoint of concatenation: `dy` split along the axis into the inputs' extents.
  static func concatenateBackward<Scalar: TensorScalar>(
    _ dy: Tensor<Scalar>, axis given: Int, inputs: [Tensor<Scalar>]
  ) -> OpGradients<Scalar> {
    let axis = given < 0 ? given + dy.rank : given + 1
    let sizes = inputs.map { $0.shape[axis] }
    let outer = dy.shape[..<axis].reduce(1, *)
    let inner = dy.shape[(axis + 1)...].reduce(1, *)
    let total = dy.shape[axis]
    var offset = 0
    return OpGradients(
      inputs: sizes.map { size in
        var shape = dy.shape
        shape[axis] = size
        var scalars = [Scalar]()
        scalars.reserveCapacity(outer * size * inner)
        for o in 0..<outer {
          let start = (o * total + offset) * inner
          scalars.append(contentsOf: dy.scalars[start..<(start + size * inner)])
        }
        offset += size
        return Tensor(shape: shape, scalars: scalars)
      })
  }

  /// For an op that only moves values (ZeroPadding2D, Cropping2D, Permute), where each output
  /// element of a sample comes from: its input index, or −1 for a zero.
  static func selection(_ op: Op, input: [Int]) -> [Int32] {
    switch op {
    case .zeroPad2d(let top, let bottom, let left, let right):
      return window(input: input, rows: -top..<(input[0] + bottom), columns: -left..<(input[1] + right))
    case .crop2d(let top, let bottom, let left, let right):
      return window(input: input, rows: top..<(input[0] - bottom), columns: left..<(input[1] - right))
    case .permute(let order):
      // Each element's own position, permuted (exact in Double: at most 2²⁸ elements).
      let count = input.reduce(1, *)
      let positions = Tensor<Double>(shape: input, scalars: (0..<count).map(Double.init)).permuted(order)
      return positions.scalars.map { Int32($0) }
    case .upSample2d(let rows, let columns):
      let (height, width, channels) = (input[0], input[1], input[2])
      var indices = [Int32]()
      indices.reserveCapacity(height * rows * width * columns * channels)
      for row in 0..<(height * rows) {
        for column in 0..<(width * columns) {
          let base = ((row / rows) * width + column / columns) * channels
          for c in 0..<channels { indices.append(Int32(base + c)) }
        }
      }
      return indices
    case .spread2d(let rows, let columns):
      let (height, width, channels) = (input[0], input[1], input[2])
      let (outHeight, outWidth) = ((height - 1) * rows + 1, (width - 1) * columns + 1)
      var indices = [Int32](repeating: -1, count: outHeight * outWidth * channels)
      for row in 0..<height {
        for column in 0..<width {
          let target = ((row * rows) * outWidth + column * columns) * channels
          for c in 0..<channels { indices[target + c] = Int32((row * width + column) * channels + c) }
        }
      }
      return indices
    default:
      preconditionFailure("\(op.kind) is not a selection")
    }
  }

  /// The per-sample output shape of a selection op whose settings fit `input` (checked by
  /// ``ShapeInference``).
  static func selectionShape(_ op: Op, input: [Int]) -> [Int] {
    switch op {
    case .zeroPad2d(let top, let bottom, let left, let right):
      return [input[0] + top + bottom, input[1] + left + right, input[2]]
    case .crop2d(let top, let bottom, let left, let right):
      return [input[0] - top - bottom, input[1] - left - right, input[2]]
    case .permute(let order):
      return order.map { input[$0] }
    case .upSample2d(let rows, let columns):
      return [input[0] * rows, input[1] * columns, input[2]]
    case .spread2d(let rows, let columns):
      return [(input[0] - 1) * rows + 1, (input[1] - 1) * columns + 1, input[2]]
    default:
      preconditionFailure("\(op.kind) is not a selection")
    }
  }

  /// Input rows `rows` and columns `columns` of an `(H, W, C)` image, zeros outside it.
  private static func window(input: [Int], rows: Range<Int>, columns: Range<Int>) -> [Int32] {
    let (height, width, channels) = (input[0], input[1], input[2])
    var indices = [Int32]()
    indices.reserveCapacity(rows.count * columns.count * channels)
    for row in rows {
      for column in columns {
        let inside = (0..<height).contains(row) && (0..<width).contains(column)
        let base = (row * width + column) * channels
        for c in 0..<channels { indices.append(inside ? Int32(base + c) : -1) }
      }
    }
    return indices
  }

  /// Applies a selection op to a batch.
  static func select<Scalar: TensorScalar>(_ op: Op, _ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let input = Array(x.shape.dropFirst())
    let indices = selection(op, input: input)
    let outputShape = selectionShape(op, input: input)
    var output = Tensor<Scalar>(zeros: [x.shape[0]] + outputShape)
    output.withUnsafeMutableScalars { out in
      x.scalars.withUnsafeBufferPointer { source in
        indices.withUnsafeBufferPointer {
          Tensor<Scalar>.gather(
            source, images: x.shape[0], inputSize: input.reduce(1, *), indices: $0, into: out)
        }
      }
    }
    return output
  }

  /// The adjoint of ``select(_:_:)``: each output gradient added to the input it came from.
  static func selectionBackward<Scalar: TensorScalar>(_ op: Op, _ dy: Tensor<Scalar>, input x: Tensor<Scalar>)
    -> Tensor<Scalar>
  {
    let input = Array(x.shape.dropFirst())
    let inputSize = input.reduce(1, *)
    let indices = selection(op, input: input)
    var dx = Tensor<Scalar>(zeros: x.shape)
    dx.withUnsafeMutableScalars { out in
      dy.scalars.withUnsafeBufferPointer { g in
        for n in 0..<x.shape[0] {
          let from = n * indices.count
          let to = n * inputSize
          for (k, index) in indices.enumerated() where index >= 0 { out[to + Int(index)] += g[from + k] }
        }
      }
    }
    return dx
  }
}

extension Op {
  /// Whether the op only moves values, each output element being one input element or zero
  /// (ZeroPadding2D, Cropping2D, Permute).
  public var isSelection: Bool {
    switch self {
    case .zeroPad2d, .crop2d, .permute, .upSample2d, .spread2d: return true
    default: return false
    }
  }

  /// For a selection op (``isSelection``) and a per-sample input shape it fits, where each output
  /// element of a sample comes from: its index in the input sample, or −1 for a zero.
  public func selectionIndices(input: [Int]) -> [Int32] { Structural.selection(self, input: input) }
}
