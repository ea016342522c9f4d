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
    case .input, .dense, .conv2d, .globalAveragePool2d, .flatten, .reshape, .batchNorm, .dropout, .add,
      .concatenate, .windowElement, .lastAxis, .lastAxisRotation, .scaleShift, .zeroPad2d, .crop2d, .permute,
      .upSample2d, .conv2dTranspose, .spread2d:
      return nil
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

extension NeuronTarget {
  /// `g(a[i], b[i])` for every `i`, with the choice of function made once for the whole buffer
  /// (the cheap piecewise-linear targets then run as plain vectorizable loops).
  @inlinable
  public func evaluate<T: TensorScalar>(
    _ a: UnsafeBufferPointer<T>, _ b: UnsafeBufferPointer<T>, into out: UnsafeMutableBufferPointer<T>
  ) {
    switch self {
    case .unary(.identity): for i in out.indices { out[i] = a[i] }
    case .unary(.relu): for i in out.indices { out[i] = a[i] < 0 ? 0 : a[i] }
    case .unary(.clippedRelu(let maxValue, let negativeSlope, let threshold)):
      // ReLU6 and its kin, with the function's own arithmetic and its parameters read once
      // rather than per neuron.
      let (slope, knee) = (T(negativeSlope), T(threshold))
      if let maxValue {
        let top = T(maxValue)
        for i in out.indices {
          let x = a[i]
          out[i] = x >= top ? top : x >= knee ? x : slope * (x - knee)
        }
      } else {
        for i in out.indices {
          let x = a[i]
          out[i] = x >= knee ? x : slope * (x - knee)
        }
      }
    case .unary(let f): for i in out.indices { out[i] = f(a[i]) }
    case .binary(.maximum):
      for i in out.indices { out[i] = a[i].isNaN || b[i].isNaN ? .nan : Swift.max(a[i], b[i]) }
    case .binary(let f): for i in out.indices { out[i] = f(a[i], b[i]) }
    }
  }
}
