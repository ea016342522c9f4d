import Tensor

/// A population of spiking neurons, one per output element, all running the same dynamics on
/// the same target function, for a batch of inputs at once.
///
/// Each neuron keeps `v`, its estimate of `g(x̂)/λ` (λ the population's normalization scale;
/// 1 without normalization), and communicates one spike per step. Within a step the order is:
/// read the input estimate `x̂_t` → compute the spike from `v_{t−1}` → update `v_t` → emit
/// `λ · v_t` as the output estimate. Symbols as in ``Dynamics``.
///
/// - Complexity: O(neurons) per step, no allocation.
public struct Population<Scalar: TensorScalar>: Sendable {
  public let dynamics: Dynamics
  public let schedule: StepSchedule
  public let target: NeuronTarget
  /// The normalization scale λ: the neuron works on `g/λ`, the output estimate is `λ·v`.
  public let scale: Scalar
  /// `v` for every neuron of every batch element.
  public private(set) var estimates: [Scalar]
  /// Spikes emitted so far, summed over neurons and steps.
  public private(set) var spikeCount = 0
  /// The last step taken (0 before the first).
  public private(set) var step = 0

  /// - Parameter count: neurons × batch size.
  public init(
    dynamics: Dynamics, schedule: StepSchedule? = nil, target: NeuronTarget, scale: Scalar = 1, count: Int
  ) {
    precondition(scale > 0 && scale.isFinite, "population scale must be positive and finite, got \(scale)")
    self.dynamics = dynamics
    self.schedule = schedule ?? dynamics.defaultSchedule
    self.target = target
    self.scale = scale
    estimates = [Scalar](repeating: 0, count: count)
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
    let inverseScale = 1 / scale
    let lambda = scale
    let target = self.target
    var fired = 0
    let secondOperand = second ?? first
    let dynamics = self.dynamics
    estimates.withUnsafeMutableBufferPointer { v in
      switch dynamics {
      case .subgradient:
        for i in v.indices {
          let goal = target(first[i], secondOperand[i]) * inverseScale
          let fires = goal > v[i]
          let s: Scalar = fires ? 1 : 0
          v[i] -= eta * (v[i] - s)
          output[i] = lambda * v[i]
          spikes?[i] = s
          if fires { fired &+= 1 }
        }
      case .signGD:
        for i in v.indices {
          let goal = target(first[i], secondOperand[i]) * inverseScale
          let fires = v[i] >= goal
          v[i] += fires ? -eta : eta
          output[i] = lambda * v[i]
          spikes?[i] = fires ? 1 : 0
          if fires { fired &+= 1 }
        }
      }
    }
    spikeCount &+= fired
  }
}
