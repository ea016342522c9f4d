import Tensor

/// A population of spiking neurons, one per output element, all running the same dynamics on
/// the same target function, for a batch of inputs at once.
///
/// Each neuron keeps `v`, its estimate of `g(x̂)/λ` (λ the neuron's normalization scale; 1
/// without normalization), and communicates one spike per step. Within a step the order is:
/// read the input estimate `x̂_t` → compute the spike from `v_{t−1}` → update `v_t` → emit
/// `λ · v_t` as the output estimate. Symbols as in ``Dynamics``.
///
/// - Complexity: O(neurons) per step, no allocation.
public struct Population<Scalar: TensorScalar>: Sendable {
  public let dynamics: Dynamics
  public let schedule: StepSchedule
  public let target: NeuronTarget
  /// The normalization scales λ: one for the whole population, or one per position of the
  /// innermost `scales.count` elements of a sample (per channel or per neuron). Neuron `i` uses
  /// `scales[i % scales.count]`; it works on `g/λ` and emits `λ·v`.
  public let scales: [Scalar]
  /// `v` for every neuron of every batch element.
  public private(set) var estimates: [Scalar]
  /// Spikes emitted so far, summed over neurons and steps.
  public private(set) var spikeCount = 0
  /// The last step taken (0 before the first).
  public private(set) var step = 0
  /// `g(x̂_t)/λ` of the current step (kept to avoid allocating one per step).
  private var goals: [Scalar]

  /// - Parameters:
  ///   - scales: λ, one or per inner position (see ``scales``); each positive and finite.
  ///   - count: neurons × batch size, a multiple of `scales.count`.
  public init(
    dynamics: Dynamics, schedule: StepSchedule? = nil, target: NeuronTarget, scales: [Scalar] = [1], count: Int
  ) {
    precondition(
      !scales.isEmpty && scales.allSatisfy { $0 > 0 && $0.isFinite },
      "population scales must be positive and finite")
    precondition(count % scales.count == 0, "\(count) neurons do not divide into \(scales.count) scales")
    self.dynamics = dynamics
    self.schedule = schedule ?? dynamics.defaultSchedule
    self.target = target
    self.scales = scales
    estimates = [Scalar](repeating: 0, count: count)
    goals = [Scalar](repeating: 0, count: count)
  }

  /// A population with one scale λ for every neuron.
  public init(dynamics: Dynamics, schedule: StepSchedule? = nil, target: NeuronTarget, scale: Scalar, count: Int) {
    self.init(dynamics: dynamics, schedule: schedule, target: target, scales: [scale], count: count)
  }

  /// Starts over: `v = 0`, no spikes, step 0.
  public mutating func reset() {
    for i in estimates.indices { estimates[i] = 0 }
    spikeCount = 0
    step = 0
  }

  /// Advances one time step.
  /// - Parameters:
  ///   - first: the input estimates `x̂_t` (first operand), one per neuron.
  ///   - second: the second operand for two-input targets (ignored otherwise).
  ///   - output: receives `λ · v_t`, one per neuron.
  ///   - spikes: if given, receives `s_t` (0 or 1) per neuron.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public mutating func advance(
    first: UnsafeBufferPointer<Scalar>, second: UnsafeBufferPointer<Scalar>? = nil,
    output: UnsafeMutableBufferPointer<Scalar>, spikes: UnsafeMutableBufferPointer<Scalar>? = nil
  ) {
    precondition(
      first.count == estimates.count && output.count == estimates.count,
      "population of \(estimates.count) fed \(first.count)")
    precondition(
      target.arity == 1 || second?.count == estimates.count, "two-input population needs a second operand")
    step += 1
    let eta = Scalar(schedule.eta(step))
    let dynamics = self.dynamics
    let target = self.target
    let scales = self.scales
    var fired = 0
    goals.withUnsafeMutableBufferPointer { goal in
      target.evaluate(first, second ?? first, into: goal)
      estimates.withUnsafeMutableBufferPointer { v in
        scales.withUnsafeBufferPointer { lambda in
          let width = lambda.count
          var base = 0
          // One loop per dynamics, so that the choice is not made per neuron.
          switch dynamics {
          case .subgradient:
            while base < v.count {
              for j in 0..<width {
                let i = base &+ j
                let fires = goal[i] / lambda[j] > v[i]
                v[i] -= eta * (v[i] - (fires ? 1 : 0))
                output[i] = lambda[j] * v[i]
                spikes?[i] = fires ? 1 : 0
                fired &+= fires ? 1 : 0
              }
              base &+= width
            }
          case .signGD:
            while base < v.count {
              for j in 0..<width {
                let i = base &+ j
                let fires = v[i] >= goal[i] / lambda[j]
                v[i] += fires ? -eta : eta
                output[i] = lambda[j] * v[i]
                spikes?[i] = fires ? 1 : 0
                fired &+= fires ? 1 : 0
              }
              base &+= width
            }
          }
        }
      }
    }
    spikeCount &+= fired
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
    case .unary(let f): for i in out.indices { out[i] = f(a[i]) }
    case .binary(.maximum):
      for i in out.indices { out[i] = a[i].isNaN || b[i].isNaN ? .nan : Swift.max(a[i], b[i]) }
    case .binary(let f): for i in out.indices { out[i] = f(a[i], b[i]) }
    }
  }
}
