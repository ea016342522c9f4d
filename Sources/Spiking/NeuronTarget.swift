import Tensor

/// The function a population approximates: one output per neuron, from one or two input
/// estimates (a two-input neuron for max, product, division and normalization).
public enum NeuronTarget: Sendable, Hashable, Codable {
  case unary(UnaryFunction)
  case binary(BinaryFunction)

  /// The function's name (`relu`, `max`, `normalize` …).
  public var name: String {
    switch self {
    case .unary(let f): return f.name
    case .binary(let f): return f.name
    }
  }

  /// How many input estimates each neuron reads.
  public var arity: Int {
    switch self {
    case .unary: return 1
    case .binary: return 2
    }
  }

  /// `g(x̂₁[, x̂₂])`.
  @inlinable
  public func callAsFunction<T: TensorScalar>(_ a: T, _ b: T) -> T {
    switch self {
    case .unary(let f): return f(a)
    case .binary(let f): return f(a, b)
    }
  }
}
