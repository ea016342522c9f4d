import Foundation
import Tensor

/// How a population of spiking neurons refines its estimate of its operator's output
/// (docs/dynamics.md, "Neurons").
public enum Dynamics: String, Sendable, Hashable, Codable, CaseIterable {
  /// The integrate-and-fire neuron read as the subgradient method on
  /// `L(v; x) = ReLU(g̃(x̂) − v) + ½v²`: fire when the target is above the estimate,
  /// `s_t = H(g̃(x̂_t) − v_{t−1})` with `H(0) = 0`, then `v_t = v_{t−1} − η_t (v_{t−1} − s_t)`.
  /// With `η_t = 1/(t+1)`, `v_t` is the firing rate `Σ s / (t+1)` and converges to
  /// `clip(g̃(x̂), 0, 1)` as O(1/T).
  case subgradient
  /// The sign-gradient-descent neuron (Oh & Lee, ICML 2024): fire when the estimate is at or
  /// above the target, `s_t = [v_{t−1} ≥ g̃(x̂_t)]`, then step down on a spike and up otherwise,
  /// `v_t = v_{t−1} − η_t (2 s_t − 1)`, `v_0 = 0`. With a geometric schedule the error falls
  /// geometrically once the target is reached; the reachable range is `±Σ η_t`.
  case signGD = "signgd"
  /// The signed integrate-and-fire neuron: the subgradient method on
  /// `L(v; x) = |g̃(x̂) − v| + ½v²`, whose minimizer is `clip(g̃(x̂), −1, 1)`. Ternary spikes:
  /// `s_t = +1` when `g̃(x̂_t) − v_{t−1} > η_t/2`, `−1` when it is below `−η_t/2`, else 0 (a
  /// target within half a step stays silent, so a zero output makes no spikes), then
  /// `v_t = v_{t−1} − η_t (v_{t−1} − s_t)`: with `η_t = 1/(t+1)`, `v_t` is the net rate
  /// `Σ s / (t+1)`, within `2/(T+1)` of the clipped target. A membrane with a positive and a
  /// negative threshold and reset by subtraction; unlike ``subgradient`` it represents negative
  /// outputs (GELU's dip, LayerNorm, tanh).
  case signedSubgradient = "signed-subgradient"
  /// The integrate-and-fire neuron as hardware runs it: a membrane `u` (in units of the
  /// threshold θ = λ, starting at `u_0`) integrates the input current, which affine layers
  /// compute from the spikes of the layer before, `u_t = κ·u_{t−1} + I_t/λ` (κ = 1, or
  /// `1 − 1/τ` with a leak τ); the neuron fires `s_t = [u_t > 1]` and resets by subtraction
  /// (`u_t − 1`) or to zero. It sends `λ·s_t` on the wire, not an estimate: its output value
  /// is the rate `λ·Σs/t`, and the readout sums its input current over the steps. The
  /// neuron's threshold makes its rate ReLU of its mean input (clipped to [0, 1]), so it only
  /// populates ReLU nodes (max pooling becomes ReLU neurons, ``ConversionSettings``).
  case integrateAndFire = "if"

  /// Whether the neuron is integrate-and-fire (its estimate a firing rate that a receiver of
  /// its spikes can follow): ``subgradient``, ``signedSubgradient`` and ``integrateAndFire``.
  public var isIntegrateAndFire: Bool { self != .signGD }

  /// Whether the neuron sends spikes rather than its estimate to the next layer
  /// (``integrateAndFire``).
  public var sendsSpikes: Bool { self == .integrateAndFire }

  /// The schedule the dynamics uses unless told otherwise: `1/(t+1)` for the IF neuron,
  /// `0.15 · 0.95^(t−1)` for signGD (the defaults of Oh & Lee's code).
  public var defaultSchedule: StepSchedule {
    switch self {
    case .subgradient, .signedSubgradient: return .inverse
    case .signGD: return .geometric(eta0: StepSchedule.defaultEta0, gamma: StepSchedule.defaultGamma)
    // What a layer fed by membrane neurons sees each step is that step's spikes alone: in the
    // terms of the rate forms' `λv_t = (1 − η_t)·λv_{t−1} + η_t·λs_t`, η_t = 1.
    case .integrateAndFire: return .constant(eta: 1)
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
