/// An n-dimensional array of `Float` or `Double` in row-major (C) order.
///
/// A value type with copy-on-write storage. Shapes are checked when a tensor is made: a count
/// that does not match the shape is a programmer error (`precondition`); data from files is
/// validated by the readers before it gets here.
public struct Tensor<Scalar: TensorScalar>: Sendable, Equatable, Codable {
  /// The extent of each dimension; `[]` is a scalar holding one value.
  public private(set) var shape: [Int]
  /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`. Change them in place
  /// with ``withUnsafeMutableScalars(_:)`` or the subscript, which cannot change their count.
  public internal(set) var scalars: [Scalar]

  /// A tensor of `shape` holding `scalars` in row-major order.
  public init(shape: [Int], scalars: [Scalar]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    precondition(
      shape.reduce(1, *) == scalars.count,
      "shape \(shape) needs \(shape.reduce(1, *)) values, got \(scalars.count)")
    self.shape = shape
    self.scalars = scalars
  }

  private enum CodingKeys: String, CodingKey { case shape, scalars }

  /// Decodes `shape` and `scalars`, checking them as the initializer does.
  /// - Throws: `DecodingError.dataCorrupted` for a negative dimension, a shape whose element
  ///   count overflows, or a scalar count that disagrees with the shape.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let shape = try container.decode([Int].self, forKey: .shape)
    let scalars = try container.decode([Scalar].self, forKey: .scalars)
    var count = 1
    for dimension in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard dimension >= 0, !overflow else {
        throw DecodingError.dataCorruptedError(
          forKey: .shape, in: container, debugDescription: "invalid tensor shape \(shape)")
      }
      count = product
    }
    guard count == scalars.count else {
      throw DecodingError.dataCorruptedError(
        forKey: .scalars, in: container,
        debugDescription: "shape \(shape) needs \(count) values, got \(scalars.count)")
    }
    self.init(shape: shape, scalars: scalars)
  }

  /// A tensor of `shape` filled with `value`.
  public init(repeating value: Scalar, shape: [Int]) {
    self.init(shape: shape, scalars: [Scalar](repeating: value, count: shape.reduce(1, *)))
  }

  /// A tensor whose elements the caller overwrites before reading (skips the zero fill).
  init(uninitialized shape: [Int]) {
    let count = shape.reduce(1, *)
    self.init(shape: shape, scalars: [Scalar](unsafeUninitializedCapacity: count) { $1 = count })
  }

  /// A tensor of zeros.
  public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

  /// The number of dimensions.
  public var rank: Int { shape.count }
  /// The number of elements.
  public var count: Int { scalars.count }

  /// The same elements viewed with another shape of equal element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    Tensor(shape: newShape, scalars: scalars)
  }

  /// The row-major strides of `shape` (elements, not bytes).
  public static func strides(of shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in shape.indices.reversed() {
      strides[axis] = running
      running *= shape[axis]
    }
    return strides
  }

  /// Calls `body` with the elements' storage for in-place updates (no copy unless shared).
  /// - Complexity: O(1), plus O(count) when the storage is shared with another tensor.
  public mutating func withUnsafeMutableScalars<R>(
    _ body: (inout UnsafeMutableBufferPointer<Scalar>) throws -> R
  ) rethrows -> R {
    try scalars.withUnsafeMutableBufferPointer(body)
  }

  /// The element at a multi-index.
  public subscript(index: Int...) -> Scalar {
    get { scalars[flatIndex(index)] }
    set { scalars[flatIndex(index)] = newValue }
  }

  private func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == rank, "index \(index) for shape \(shape)")
    var flat = 0
    for axis in 0..<rank {
      precondition(index[axis] >= 0 && index[axis] < shape[axis], "index \(index) out of \(shape)")
      flat = flat * shape[axis] + index[axis]
    }
    return flat
  }

  /// The elements converted to another scalar type (the tensor itself when the type is its own).
  ///
  /// Inlinable so that callers get it specialized: unspecialized, each element's conversion goes
  /// through the generic protocol witnesses and costs some fifty times as much.
  @inlinable
  public func converted<Other: TensorScalar>(to: Other.Type = Other.self) -> Tensor<Other> {
    if let same = self as? Tensor<Other> { return same }
    return Tensor<Other>(shape: shape, scalars: scalars.map { Other($0) })
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
    return "Tensor\(shape)[\(preview)\(count > 8 ? ", …" : "")]"
  }
}
