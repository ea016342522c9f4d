import RealModule
import Tensor

extension UnaryFunction {
  /// `f'(x)`, with the policy's subgradient where `f` has a kink.
  ///
  /// Kinks: `relu`, `leakyRelu` and `abs` at `x = 0`, and `clippedRelu` at its threshold, use
  /// `reluPrime`; `clippedRelu` at `maxValue` uses 0 (the saturated branch, as its forward
  /// definition `x ≥ maxValue ↦ maxValue` says); `hardSwish` at ±3 uses the slope of its middle
  /// branch, `(2x + 3)/6`, as PyTorch does, and `hardSigmoid` at its two corners its slope;
  /// `elu` at 0 uses `α`, the derivative of the branch its forward pass takes there (continuous
  /// when `α = 1`).
  /// - Parameter y: `f(x)`, reused where it makes the derivative cheaper (sigmoid, tanh, exp).
  func derivative<T: TensorScalar>(_ x: T, output y: T, reluPrime: T) -> T {
    switch self {
    case .identity: return 1
    case .relu: return x > 0 ? 1 : (x < 0 ? 0 : reluPrime)
    case .leakyRelu(let slope): return x > 0 ? 1 : (x < 0 ? T(slope) : reluPrime)
    case .clippedRelu(let maxValue, let negativeSlope, let threshold):
      if let maxValue, x >= T(maxValue) { return 0 }
      if x == T(threshold) { return reluPrime }
      return x > T(threshold) ? 1 : T(negativeSlope)
    case .abs: return x > 0 ? 1 : (x < 0 ? -1 : reluPrime)
    case .gelu(let form):
      switch form {
      case .exact:
        // d/dx [x Φ(x)] = Φ(x) + x φ(x)
        let phi = T.exp(-x * x / 2) / T.sqrt(2 * T.pi)
        return (1 + T.erf(x / T.sqrt(2))) / 2 + x * phi
      case .tanh:
        let c = T.sqrt(2 / T.pi)
        let inner = c * (x + T(0.044715) * x * x * x)
        let t = T.tanh(inner)
        return (1 + t) / 2 + x * (1 - t * t) * c * (1 + 3 * T(0.044715) * x * x) / 2
      case .sigmoid:
        let s = UnaryFunction.logistic(T(1.702) * x)
        return s + x * T(1.702) * s * (1 - s)
      }
    case .silu:
      let s = UnaryFunction.logistic(x)
      return s * (1 + x * (1 - s))
    case .hardSwish:
      // PyTorch's convention at the two kinks: the middle branch's slope (2x + 3)/6 on [−3, 3].
      if x < -3 { return 0 }
      return x > 3 ? 1 : (2 * x + 3) / 6
    case .hardSigmoid(let slope, let offset):
      // The middle branch's slope on its closed interval, as for hard swish.
      let z = T(slope) * x + T(offset)
      return z < 0 || z > 1 ? 0 : T(slope)
    case .tanh: return 1 - y * y
    case .sigmoid: return y * (1 - y)
    case .softplus: return UnaryFunction.logistic(x)
    case .elu(let alpha): return x > 0 ? 1 : T(alpha) * T.exp(x)
    case .square: return 2 * x
    case .exp: return y
    }
  }
}

/// Elementwise activations, softmax over the last axis, and the two-input functions of spiking
/// decompositions (forward only).
enum Elementwise {
  /// The gradients of both inputs of a two-input function: `dy·∂f/∂x₁` and `dy·∂f/∂x₂`. Where
  /// the maximum's inputs tie, `tie` picks which gets the gradient (the first, the last, or half
  /// each), as for max pooling.
  static func binaryBackward<Scalar: TensorScalar>(
    _ function: BinaryFunction, _ a: Tensor<Scalar>, _ b: Tensor<Scalar>, _ dy: Tensor<Scalar>,
    tie: MaxTieRule
  ) -> OpGradients<Scalar> {
    var (da, db) = (dy.scalars, dy.scalars)
    let (x, y, g) = (a.scalars, b.scalars, dy.scalars)
    precondition(
      x.count == g.count && y.count == g.count, "two-input gradient of \(g.count) for \(x.count), \(y.count)")
    for i in 0..<g.count {
      let (u, v, d) = (x[i], y[i], g[i])
      switch function {
      case .add: break
      case .subtract: db[i] = -d
      case .product: (da[i], db[i]) = (d * v, d * u)
      case .division: (da[i], db[i]) = (d / v, -d * u / (v * v))
      case .normalize(let epsilon):
        let root = Scalar.sqrt(v + Scalar(epsilon))
        (da[i], db[i]) = (d / root, -d * u / (2 * root * root * root))
      case .maximum:
        let share: (Scalar, Scalar)
        if u > v {
          share = (1, 0)
        } else if v > u {
          share = (0, 1)
        } else {
          switch tie {
          case .first: share = (1, 0)
          case .last: share = (0, 1)
          case .split: share = (0.5, 0.5)
          }
        }
        (da[i], db[i]) = (d * share.0, d * share.1)
      }
    }
    return OpGradients(inputs: [Tensor(shape: dy.shape, scalars: da), Tensor(shape: dy.shape, scalars: db)])
  }

  /// `dx = dy · f'(x)`, with the policy's `reluPrime` at kinks (``UnaryFunction/derivative(_:output:reluPrime:)``).
  static func backward<Scalar: TensorScalar>(
    _ function: UnaryFunction, _ x: Tensor<Scalar>, _ y: Tensor<Scalar>, _ dy: Tensor<Scalar>,
    reluPrime: Double
  ) -> OpGradients<Scalar> {
    var dx = dy
    let s = Scalar(reluPrime)
    dx.withUnsafeMutableScalars { g in
      x.scalars.withUnsafeBufferPointer { xs in
        y.scalars.withUnsafeBufferPointer { ys in
          switch function {
          case .relu:
            // The common case as its own loop over raw pointers in `while` form, which
            // compiles to vector code (same values).
            precondition(xs.count == g.count, "ReLU gradient of \(g.count) for \(xs.count) inputs")
            guard let dg = g.baseAddress, let xp = xs.baseAddress else { return }
            var i = 0
            while i < g.count {
              let v = xp[i]
              dg[i] *= v > 0 ? 1 : (v < 0 ? 0 : s)
              i &+= 1
            }
          default:
            for i in g.indices { g[i] *= function.derivative(xs[i], output: ys[i], reluPrime: s) }
          }
        }
      }
    }
    return OpGradients(inputs: [dx])
  }

  /// Softmax's Jacobian-vector product per row: `dx = y ⊙ (dy − ⟨dy, y⟩)`.
  static func softmaxBackward<Scalar: TensorScalar>(_ y: Tensor<Scalar>, _ dy: Tensor<Scalar>) -> OpGradients<
    Scalar
  > {
    let width = y.shape.last!
    var dx = dy
    dx.withUnsafeMutableScalars { g in
      y.scalars.withUnsafeBufferPointer { ys in
        for row in 0..<(g.count / width) {
          let base = row &* width
          var dot: Scalar = 0
          for j in 0..<width { dot += g[base &+ j] * ys[base &+ j] }
          for j in 0..<width { g[base &+ j] = ys[base &+ j] * (g[base &+ j] - dot) }
        }
      }
    }
    return OpGradients(inputs: [dx])
  }
}
