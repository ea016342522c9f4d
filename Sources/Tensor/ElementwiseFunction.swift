import RealModule

/// How GELU is evaluated.
public enum GELUForm: String, Sendable, Hashable, Codable, CaseIterable {
  /// `x·Φ(x) = ½x(1 + erf(x/√2))`, Keras `approximate=False`.
  case exact
  /// `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`, Keras `approximate=True`.
  case tanh
  /// `x·σ(1.702x)`.
  case sigmoid
}

/// A one-input elementwise function: the non-affine operators of a network and the targets of
/// their spiking neurons (docs/dynamics.md, "Targets").
///
/// Every case is evaluated in the tensor's own precision and is overflow-safe: `sigmoid`,
/// `softplus`, `silu` never form `exp` of a large positive number; NaN in gives NaN out.
public enum UnaryFunction: Sendable, Hashable, Codable {
  case identity
  /// `max(x, 0)`.
  case relu
  /// `x` for `x ≥ 0`, else `slope·x`.
  case leakyRelu(slope: Double)
  /// Keras's general `ReLU` layer: `maxValue` for `x ≥ maxValue`, `x` for
  /// `threshold ≤ x < maxValue`, else `negativeSlope·(x − threshold)`. `maxValue` nil is +∞.
  case clippedRelu(maxValue: Double?, negativeSlope: Double, threshold: Double)
  case gelu(GELUForm)
  /// `x·σ(x)` (swish).
  case silu
  /// `x·min(max(x + 3, 0), 6)/6`: 0 below −3, `x` above 3 (hard swish, MobileNetV3's activation;
  /// Keras `hard_silu`, ONNX `HardSwish`).
  case hardSwish
  /// `min(max(slope·x + offset, 0), 1)`: Keras 3's and PyTorch's `hard_sigmoid` is slope 1/6,
  /// offset 1/2 (`relu6(x + 3)/6`, MobileNetV3's gate); tf.keras 2's and ONNX `HardSigmoid`'s
  /// default is slope 0.2, offset 0.5.
  case hardSigmoid(slope: Double, offset: Double)
  case tanh
  /// `1 / (1 + e^{−x})`.
  case sigmoid
  /// `log(1 + eˣ)`, computed as `max(x, 0) + log1p(e^{−|x|})`.
  case softplus
  /// `x` for `x > 0`, else `α(eˣ − 1)`.
  case elu(alpha: Double)
  case abs
  case square
  case exp

  /// The function's value at `x`.
  @inlinable
  public func callAsFunction<T: TensorScalar>(_ x: T) -> T {
    switch self {
    case .identity: return x
    case .relu: return x < 0 ? 0 : x
    case .leakyRelu(let slope): return x >= 0 ? x : T(slope) * x
    case .clippedRelu(let maxValue, let negativeSlope, let threshold):
      if let maxValue, x >= T(maxValue) { return T(maxValue) }
      return x >= T(threshold) ? x : T(negativeSlope) * (x - T(threshold))
    case .gelu(let form):
      switch form {
      case .exact: return x * (1 + T.erf(x / T.sqrt(2))) / 2
      case .tanh:
        let inner = T.sqrt(2 / T.pi) * (x + T(0.044715) * x * x * x)
        return x * (1 + T.tanh(inner)) / 2
      case .sigmoid: return x * UnaryFunction.logistic(T(1.702) * x)
      }
    case .silu: return x * UnaryFunction.logistic(x)
    case .hardSwish: return x * Swift.min(Swift.max(x + 3, 0), 6) / 6
    case .hardSigmoid(let slope, let offset): return Swift.min(Swift.max(T(slope) * x + T(offset), 0), 1)
    case .tanh: return T.tanh(x)
    case .sigmoid: return UnaryFunction.logistic(x)
    case .softplus: return Swift.max(x, 0) + T.log(onePlus: T.exp(-Swift.abs(x)))
    case .elu(let alpha): return x > 0 ? x : T(alpha) * T.expMinusOne(x)
    case .abs: return Swift.abs(x)
    case .square: return x * x
    case .exp: return T.exp(x)
    }
  }

  /// The logistic function `1 / (1 + e^{−x})`, never forming `e^{+large}`.
  @inlinable
  public static func logistic<T: TensorScalar>(_ x: T) -> T {
    if x >= 0 { return 1 / (1 + T.exp(-x)) }
    let e = T.exp(x)
    return e / (1 + e)
  }
}

/// A two-input elementwise function (docs/dynamics.md, "Targets").
public enum BinaryFunction: Sendable, Hashable, Codable {
  /// `max(x₁, x₂)`; NaN if either is NaN.
  case maximum
  case add
  case subtract
  /// `x₁·x₂`.
  case product
  /// `x₁/x₂` (IEEE: ±∞ or NaN where `x₂ = 0`).
  case division
  /// `x₁ / sqrt(x₂ + ε)`, the normalising step of LayerNorm.
  case normalize(epsilon: Double)

  @inlinable
  public func callAsFunction<T: TensorScalar>(_ a: T, _ b: T) -> T {
    switch self {
    case .maximum: return a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
    case .add: return a + b
    case .subtract: return a - b
    case .product: return a * b
    case .division: return a / b
    case .normalize(let epsilon): return a / T.sqrt(b + T(epsilon))
    }
  }
}

extension Tensor {
  /// `f` applied to every element.
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func map(_ function: UnaryFunction) -> Tensor {
    var result = self
    result.apply(function)
    return result
  }

  /// `f` applied to every element, in place.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public mutating func apply(_ function: UnaryFunction) {
    scalars.withUnsafeMutableBufferPointer { buffer in
      switch function {
      case .relu:
        // The common cases as their own loops over raw pointers in `while` form, which compile
        // to vector code (same values).
        guard let p = buffer.baseAddress else { return }
        var i = 0
        while i < buffer.count {
          let x = p[i]
          p[i] = x < 0 ? 0 : x
          i &+= 1
        }
      case .identity:
        break
      default:
        for index in buffer.indices { buffer[index] = function(buffer[index]) }
      }
    }
  }

  /// `f(a, b)` elementwise for two tensors of the same shape.
  /// - Complexity: O(count).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func zip(_ a: Tensor, _ b: Tensor, _ function: BinaryFunction) -> Tensor {
    precondition(a.shape == b.shape, "elementwise \(function) of \(a.shape) and \(b.shape)")
    var result = a
    result.scalars.withUnsafeMutableBufferPointer { r in
      b.scalars.withUnsafeBufferPointer { pb in
        // The common cases as their own loops over raw pointers in `while` form, which compile
        // to vector code (same values): subscripts of a second buffer keep a bounds check that
        // stops vectorization.
        guard let x = r.baseAddress, let y = pb.baseAddress else { return }
        let count = r.count
        var i = 0
        switch function {
        case .add:
          while i < count {
            x[i] += y[i]
            i &+= 1
          }
        case .subtract:
          while i < count {
            x[i] -= y[i]
            i &+= 1
          }
        case .product:
          while i < count {
            x[i] *= y[i]
            i &+= 1
          }
        default: for index in r.indices { r[index] = function(r[index], pb[index]) }
        }
      }
    }
    return result
  }

  public static func + (a: Tensor, b: Tensor) -> Tensor { zip(a, b, .add) }
  public static func - (a: Tensor, b: Tensor) -> Tensor { zip(a, b, .subtract) }
  public static func * (a: Tensor, b: Tensor) -> Tensor { zip(a, b, .product) }

  /// Every element multiplied by `factor`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func * (factor: Scalar, a: Tensor) -> Tensor {
    var result = a
    result.scalars.withUnsafeMutableBufferPointer { r in
      for index in r.indices { r[index] *= factor }
    }
    return result
  }

  /// Every element rounded to the nearest IEEE binary16 value (emulated half precision: call
  /// after each operation). Overflow beyond ±65504 gives ±∞; subnormal halves are kept.
  public func roundedToHalf() -> Tensor {
    var result = self
    result.roundToHalf()
    return result
  }

  /// In-place form of ``roundedToHalf()``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public mutating func roundToHalf() {
    scalars.withUnsafeMutableBufferPointer { Self.roundToHalf($0) }
  }

  /// ``roundToHalf()`` of a buffer, in place.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func roundToHalf(_ buffer: UnsafeMutableBufferPointer<Scalar>) {
    guard let p = buffer.baseAddress else { return }
    var i = 0
    while i < buffer.count {
      p[i] = Scalar.roundedToHalf(p[i])
      i &+= 1
    }
  }
}
