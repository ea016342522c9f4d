import Foundation
import Tensor

/// How parameters move along their gradients.
public enum OptimizerKind: String, Sendable, Hashable, Codable, CaseIterable {
  /// `w ← w − η g`.
  case sgd
  /// Heavy ball: `v ← μ v + g`, `w ← w − η v`.
  case momentum
  /// Nesterov momentum: `v ← μ v + g`, `w ← w − η (g + μ v)`.
  case nesterov
  /// Adam (Kingma & Ba, 2015) with bias correction: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
  /// `w ← w − η m̂ / (sqrt(v̂) + ε)`.
  case adam
}

/// Optimizer settings. Weight decay is decoupled (Loshchilov & Hutter, 2019): after the step,
/// `w ← w − η λ w` for kernels only (not biases or normalization parameters).
public struct OptimizerSettings: Sendable, Hashable, Codable {
  public var kind: OptimizerKind
  public var momentum: Double
  public var beta1: Double
  public var beta2: Double
  /// Adam's ε; 1e-7 as in Keras.
  public var epsilon: Double
  public var weightDecay: Double

  public init(
    kind: OptimizerKind = .adam, momentum: Double = 0.9, beta1: Double = 0.9, beta2: Double = 0.999,
    epsilon: Double = 1e-7, weightDecay: Double = 0
  ) {
    self.kind = kind
    self.momentum = momentum
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }
}

/// A trainable parameter: the position of its node in the graph and its name there.
struct ParameterSlot: Hashable, Sendable {
  let node: Int
  let name: String
}

/// An optimizer with its per-parameter state (velocity, moments), stored parallel to the
/// parameters it moves and updated in place.
///
/// In half precision the updated parameters are rounded to binary16, but the optimizer's own
/// state stays in float32, as mixed-precision practice does: Adam's second moment `g²` would
/// otherwise underflow to 0 and turn `m̂ / (sqrt(v̂) + ε)` into an overflow.
struct Optimizer<Scalar: TensorScalar> {
  let settings: OptimizerSettings
  let roundsToHalf: Bool
  /// The parameters moved, in a fixed order: every trainable parameter of every node.
  let slots: [ParameterSlot]
  /// Per slot: momentum's velocity or Adam's first moment, and Adam's second moment (empty
  /// where the optimizer keeps none).
  private var first: [[Scalar]]
  private var second: [[Scalar]]
  private var steps = 0

  /// - Parameters:
  ///   - parameters: per node, its parameters by name (``TrainingNetwork/parameters``).
  ///   - trainable: the names of the parameters to move.
  init(
    settings: OptimizerSettings, roundsToHalf: Bool, parameters: [[String: Tensor<Scalar>]],
    trainable: Set<String>
  ) {
    self.settings = settings
    self.roundsToHalf = roundsToHalf
    slots = parameters.indices.flatMap { node in
      parameters[node].keys.filter(trainable.contains).sorted().map { ParameterSlot(node: node, name: $0) }
    }
    let keepsFirst = settings.kind != .sgd
    let keepsSecond = settings.kind == .adam
    first = slots.map { keepsFirst ? [Scalar](repeating: 0, count: parameters[$0.node][$0.name]!.count) : [] }
    second = slots.map {
      keepsSecond ? [Scalar](repeating: 0, count: parameters[$0.node][$0.name]!.count) : []
    }
  }

  /// One step: moves every slot's parameter against its gradient (slots without a gradient stay)
  /// with learning rate `rate`; decoupled weight decay applies to kernels.
  /// A parameter of `threads × 16,384` elements or more is moved by `threads` threads, each
  /// on its own range of elements; every element's update is the same whoever computes it.
  mutating func step(
    _ parameters: inout [[String: Tensor<Scalar>]], gradients: [[String: Tensor<Scalar>]], rate: Double,
    threads: Int = 1
  ) {
    steps += 1
    for (k, slot) in slots.enumerated() {
      guard let gradient = gradients[slot.node][slot.name] else { continue }
      update(
        &parameters[slot.node][slot.name]!, k, gradient: gradient, rate: rate, decays: slot.name == "kernel",
        threads: threads)
    }
  }

  /// Moves `weights` (slot `k`) against `gradient`. In half precision the moved weights are
  /// rounded, then decayed and rounded again — each loop a plain pass that compiles to vector
  /// code, run by each worker on its own range (every step is elementwise: the same bits).
  private mutating func update(
    _ weights: inout Tensor<Scalar>, _ k: Int, gradient: Tensor<Scalar>, rate: Double, decays: Bool,
    threads: Int
  ) {
    let settings = settings
    let step = steps
    let roundsToHalf = roundsToHalf
    let decay: Scalar? =
      decays && settings.weightDecay > 0 ? 1 - Scalar(rate) * Scalar(settings.weightDecay) : nil
    let count = weights.count
    let parts = count >= threads * 16_384 ? threads : 1
    weights.withUnsafeMutableScalars { w in
      gradient.scalars.withUnsafeBufferPointer { g in
        first[k].withUnsafeMutableBufferPointer { m in
          second[k].withUnsafeMutableBufferPointer { v in
            // Each part its own range; the buffers outlive the (synchronous) parallel loop.
            let buffers = UncheckedSendable((w, g, m, v))
            DispatchQueue.concurrentPerform(iterations: parts) { part in
              let (w, g, m, v) = buffers.value
              let range = (count * part / parts)..<(count * (part + 1) / parts)
              func slice(_ b: UnsafeMutableBufferPointer<Scalar>) -> UnsafeMutableBufferPointer<Scalar> {
                b.isEmpty ? b : UnsafeMutableBufferPointer(rebasing: b[range])
              }
              Self.move(
                slice(w), UnsafeBufferPointer(rebasing: g[range]), slice(m), slice(v), settings: settings,
                step: step, rate: rate)
              if roundsToHalf { Tensor.roundToHalf(slice(w)) }
              if let decay {
                let part = slice(w)
                if let base = part.baseAddress {
                  var i = 0
                  while i < part.count {
                    base[i] *= decay
                    i &+= 1
                  }
                }
                if roundsToHalf { Tensor.roundToHalf(part) }
              }
            }
          }
        }
      }
    }
  }

  /// One update of a range of weights. Loops over raw pointers in plain `while` form, which
  /// LLVM vectorizes (buffer subscripts in a `for` over a range keep a second exit, the range's
  /// overflow trap, and stay scalar).
  private static func move(
    _ weights: UnsafeMutableBufferPointer<Scalar>, _ gradient: UnsafeBufferPointer<Scalar>,
    _ first: UnsafeMutableBufferPointer<Scalar>, _ second: UnsafeMutableBufferPointer<Scalar>,
    settings: OptimizerSettings, step: Int, rate: Double
  ) {
    let count = weights.count
    guard count > 0 else { return }
    let eta = Scalar(rate)
    let w = weights.baseAddress!
    let g = gradient.baseAddress!
    var i = 0
    switch settings.kind {
    case .sgd:
      while i < count {
        w[i] = w[i] - eta * g[i]
        i &+= 1
      }
    case .momentum:
      let m = first.baseAddress!
      let mu = Scalar(settings.momentum)
      while i < count {
        m[i] = mu * m[i] + g[i]
        w[i] = w[i] - eta * m[i]
        i &+= 1
      }
    case .nesterov:
      let m = first.baseAddress!
      let mu = Scalar(settings.momentum)
      while i < count {
        m[i] = mu * m[i] + g[i]
        w[i] = w[i] - eta * (g[i] + mu * m[i])
        i &+= 1
      }
    case .adam:
      let m = first.baseAddress!
      let v = second.baseAddress!
      let b1 = Scalar(settings.beta1)
      let b2 = Scalar(settings.beta2)
      let correction1 = 1 - Scalar.pow(b1, step)
      let correction2 = 1 - Scalar.pow(b2, step)
      let epsilon = Scalar(settings.epsilon)
      // In blocks of three loops, the square roots in the middle one as explicit vectors:
      // `squareRoot()` on a scalar becomes a library call (errno) that keeps its loop scalar.
      // Same operations in the same order per element as the one-loop form, so the same bits.
      withUnsafeTemporaryAllocation(of: Scalar.self, capacity: 512) { buffer in
        let root = buffer.baseAddress!
        var start = 0
        while start < count {
          let length = min(512, count &- start)
          let m = m + start
          let v = v + start
          let g = g + start
          let w = w + start
          var j = 0
          while j < length {
            m[j] = b1 * m[j] + (1 - b1) * g[j]
            v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j]
            root[j] = v[j] / correction2
            j &+= 1
          }
          j = 0
          while j &+ 4 <= length {
            let x = UnsafeRawPointer(root + j).loadUnaligned(as: SIMD4<Scalar>.self)
            UnsafeMutableRawPointer(root + j).storeBytes(of: x.squareRoot(), as: SIMD4<Scalar>.self)
            j &+= 4
          }
          while j < length {
            root[j] = root[j].squareRoot()
            j &+= 1
          }
          j = 0
          while j < length {
            let update = (m[j] / correction1) / (root[j] + epsilon)
            w[j] = w[j] - eta * update
            j &+= 1
          }
          start &+= length
        }
      }
    }
  }
}

/// How the learning rate changes over training.
public enum LearningRateSchedule: Sendable, Hashable, Codable {
  case constant
  /// Multiply by `factor` every `epochs` epochs.
  case step(epochs: Int, factor: Double)
  /// Cosine decay from the base rate to 0 over all steps (Loshchilov & Hutter, 2017).
  case cosine

  /// The rate at `step` of `totalSteps` (0-based), in epoch `epoch` (0-based).
  public func rate(base: Double, step: Int, totalSteps: Int, epoch: Int) -> Double {
    switch self {
    case .constant: return base
    case .step(let epochs, let factor): return base * pow(factor, Double(epoch / max(epochs, 1)))
    case .cosine: return base * 0.5 * (1 + cos(Double.pi * Double(step) / Double(max(totalSteps, 1))))
    }
  }
}
