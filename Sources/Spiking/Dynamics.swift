import Foundation
import Tensor

/// The name of a neuron model (``NeuronModel``) in files, flags and run records; ``model`` is
/// the model itself (docs/dynamics.md, "Neurons").
public enum Dynamics: String, Sendable, Hashable, Codable, CaseIterable {
  /// Integrate-and-fire in rate form, the subgradient method (``RateIntegrateAndFire``).
  case subgradient
  /// Sign gradient descent (``SignGradientDescent``).
  case signGD = "signgd"
  /// Signed integrate-and-fire, ternary spikes (``SignedIntegrateAndFire``).
  case signedSubgradient = "signed-subgradient"
  /// Membrane integrate-and-fire, spikes on the wire (``MembraneIntegrateAndFire``).
  case integrateAndFire = "if"
  /// Burst integrate-and-fire, up to 2ᵇ − 1 spikes per step (``BurstIntegrateAndFire``).
  case burst

  /// Whether the neuron sends spikes rather than its estimate to the next layer
  /// (``NeuronModel/sendsSpikes``).
  public var sendsSpikes: Bool { model.sendsSpikes }

  /// Whether an affine map of the neuron's output can follow its spikes
  /// (``NeuronModel/estimateFollowsSpikes``).
  public var estimateFollowsSpikes: Bool { model.estimateFollowsSpikes }

  /// The schedule the population runs unless told otherwise (``NeuronModel/defaultSchedule``);
  /// for a model without one, `η_t = 1`: what a layer fed by membrane neurons sees each step is
  /// that step's spikes alone, in the terms of the rate forms' `λv_t = (1 − η_t)·λv_{t−1} + η_t·λs_t`.
  public var defaultSchedule: StepSchedule { model.defaultSchedule ?? .constant(eta: 1) }
}

extension Dynamics {
  /// The neuron model this name stands for: the one place a new model is added to the names.
  public var model: any NeuronModel.Type {
    switch self {
    case .subgradient: RateIntegrateAndFire.self
    case .signGD: SignGradientDescent.self
    case .signedSubgradient: SignedIntegrateAndFire.self
    case .integrateAndFire: MembraneIntegrateAndFire.self
    case .burst: BurstIntegrateAndFire.self
    }
  }
}

/// What a membrane integrate-and-fire neuron's potential becomes when it fires
/// (``Dynamics/integrateAndFire``).
public enum ResetMode: String, Sendable, Hashable, Codable, CaseIterable {
  /// `u ← u − θ`: the charge above the threshold is kept, and the rate tracks the input without
  /// the loss of a reset to zero (Rueckauer et al., 2017).
  case subtract
  /// `u ← 0`, as NIR's IF and LIF neurons reset (to `v_reset`, here 0).
  case zero
}

/// The step size `η_t` at time step `t = 1, 2, …`.
///
/// Encoded (JSON, `.snn.h5`, run records) in Swift's synthesized form: `{"inverse":{}}`,
/// `{"geometric":{"eta0":0.15,"gamma":0.95}}`, `{"constant":{"eta":0.1}}`.
public enum StepSchedule: Sendable, Hashable, Codable, CustomStringConvertible {
  /// `η_t = 1/(t+1)`: the running average, which makes `v_t` a firing rate.
  case inverse
  /// `η_t = η₀ γ^(t−1)`; the total travel is below `η₀ / (1 − γ)`.
  case geometric(eta0: Double, gamma: Double)
  /// `η_t = η`.
  case constant(eta: Double)
  /// Per neuron, for signGD: each neuron's step starts at `η₀` and shrinks by `γ` only when its
  /// spike differs from the one before (it overshot its target), so a neuron whose target
  /// moves away keeps the step it had until it has caught up. Where spikes alternate around a
  /// settled target it decays as `geometric` does; a deep population whose target keeps moving
  /// while the populations before it settle does not run out of step (docs/dynamics.md).
  case adaptive(eta0: Double, gamma: Double)

  /// `inverse`, `geometric(η₀=0.15, γ=0.95)` or `constant(η=0.1)`.
  public var description: String {
    switch self {
    case .inverse: return "inverse"
    case .geometric(let eta0, let gamma): return "geometric(η₀=\(eta0), γ=\(gamma))"
    case .constant(let eta): return "constant(η=\(eta))"
    case .adaptive(let eta0, let gamma): return "adaptive(η₀=\(eta0), γ=\(gamma))"
    }
  }

  /// signGD's default first step η₀, also the step of `constant` when none is given.
  public static let defaultEta0 = 0.15
  /// signGD's default decay γ.
  public static let defaultGamma = 0.95

  /// Why the schedule cannot drive a neuron, or nil: every step size must be finite and in
  /// (0, 1] — a larger step overshoots the range [0, 1] the estimates live in, a zero or
  /// negative one never moves or moves away.
  public var problem: String? {
    func inRange(_ value: Double) -> Bool { value.isFinite && value > 0 && value <= 1 }
    switch self {
    case .inverse: return nil
    case .geometric(let eta0, let gamma), .adaptive(let eta0, let gamma):
      if !inRange(eta0) { return "η₀ = \(eta0) is outside (0, 1]" }
      if !inRange(gamma) { return "γ = \(gamma) is outside (0, 1]" }
      return nil
    case .constant(let eta):
      return inRange(eta) ? nil : "η = \(eta) is outside (0, 1]"
    }
  }

  /// `η_t` for `t ≥ 1`: the step every neuron takes (for `adaptive`, the largest any neuron
  /// may take, `η₀`).
  public func eta(_ t: Int) -> Double {
    switch self {
    case .inverse: return 1 / Double(t + 1)
    case .geometric(let eta0, let gamma): return eta0 * pow(gamma, Double(t - 1))
    case .constant(let eta): return eta
    case .adaptive(let eta0, _): return eta0
    }
  }

  /// Whether each neuron keeps a step of its own (``adaptive``).
  public var isPerNeuron: Bool { if case .adaptive = self { true } else { false } }

  /// The farthest `v` can travel from 0 in `steps` steps (∞ for unbounded schedules).
  public func reach(steps: Int) -> Double {
    switch self {
    case .inverse: return 1
    case .geometric(let eta0, let gamma):
      return gamma == 1 ? eta0 * Double(steps) : eta0 * (1 - pow(gamma, Double(steps))) / (1 - gamma)
    case .constant(let eta), .adaptive(let eta, _): return eta * Double(steps)
    }
  }
}
