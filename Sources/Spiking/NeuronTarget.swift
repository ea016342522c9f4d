import Graph
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

  /// The target a population on a node with `op` approximates: the activation or the two-input
  /// function itself, and the identity for the fused composites (pooling, LayerNorm, softmax),
  /// whose neurons are fed the composite of the input estimates. Nil for affine ops.
  public init?(populating op: Op) {
    switch op {
    case .activation(let function): self = .unary(function)
    case .binary(let function): self = .binary(function)
    case .pool2d, .layerNorm, .softmax: self = .unary(.identity)
    default: return nil
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
