import Foundation
import Tensor

/// One kind of spiking neuron as the rest of the toolkit sees it: what it can approximate, what
/// it sends to the next layer, which settings apply to it, and how tuning and the exporters
/// treat it. Each conforming type carries the model's equations in its doc comment
/// (docs/dynamics.md, "Neurons", is the specification); ``Dynamics`` names the models in files,
/// flags and run records, and ``Dynamics/model`` is the one switch from name to model
/// (docs/architecture.md, "Adding a neuron model").
///
/// Each model's file also holds its step kernel (`step`), a loop over raw pointers that
/// ``Population`` selects once per step with an exhaustive switch, so that each loop is
/// compiled for its model alone and vectorizes.
public protocol NeuronModel {
  /// The name of the model in files, flags and run records.
  static var dynamics: Dynamics { get }
  /// A few words for help texts: what the neuron is.
  static var summary: String { get }
  /// Whether a neuron sends what it fires (`λ·s_t`, a spike) rather than its estimate; what a
  /// receiver, the readout or a measurement then takes as its value is the mean of what it sent.
  static var sendsSpikes: Bool { get }
  /// Whether the neuron's estimate is a rate, `λv_t = (1 − η_t)·λv_{t−1} + η_t·λs_t`, so that an
  /// affine map of it can follow its spikes under the event update (``AffineUpdate/event``).
  static var estimateFollowsSpikes: Bool { get }
  /// The step schedule it runs unless told otherwise; nil for a model without one (membranes
  /// integrate their input current).
  static var defaultSchedule: StepSchedule? { get }
  /// Whether each neuron may keep a step of its own (``StepSchedule/adaptive(eta0:gamma:)``),
  /// which is also what the default conversion gives its stalled populations (``Convergence``).
  static var acceptsPerNeuronSchedule: Bool { get }
  /// Whether the membrane settings apply: reset, leak and initial membrane potential.
  static var hasMembrane: Bool { get }
  /// Whether its output can go below zero (else it covers `[0, λ]`, and a population on outputs
  /// that do is reported, ``ConversionWarning``).
  static var emitsNegativeOutputs: Bool { get }
  /// Whether tuning searches its step schedule (a grid of geometric schedules and a climb)
  /// rather than keeping the population's own.
  static var tunesSchedule: Bool { get }
  /// Whether a population of such neurons can approximate `target` (membrane neurons, whose
  /// threshold makes the ReLU, approximate nothing else).
  static func approximates(_ target: NeuronTarget) -> Bool
  /// Why a NIR graph cannot hold the model, nil where it can (``Dynamics/model``).
  static var notExportableToNIR: String? { get }
  /// The largest λ with which a population approximates `target`, nil for no limit: a neuron
  /// whose ceiling is λ computes a ReLU capped at `m` (ReLU6) only with `λ ≤ m`. Conversion
  /// lowers larger scales to it.
  static func largestScale(for target: NeuronTarget) -> Double?
  /// Its own settings (none unless it declares some), which ``NeuronParameters`` holds by name.
  static var parameters: [NeuronParameter] { get }
  /// How many different values a neuron sends per step with `parameters`: 2 for a binary
  /// spike, 3 for a ternary one, `2ᵇ` for a burst of up to `2ᵇ − 1`. A step then costs
  /// `log₂(levels)` bits per neuron (``bitsPerStep(_:)``), which reports compare models by.
  static func spikeLevels(_ parameters: NeuronParameters) -> Int
}

extension NeuronModel {
  public static func largestScale(for target: NeuronTarget) -> Double? { nil }
  public static var parameters: [NeuronParameter] { [] }
  public static func spikeLevels(_ parameters: NeuronParameters) -> Int { 2 }
  /// `log₂` of ``spikeLevels(_:)``: 1 for binary spikes.
  public static func bitsPerStep(_ parameters: NeuronParameters) -> Double {
    log2(Double(spikeLevels(parameters)))
  }
}

/// A model whose neurons fire 0 or 1 per step and update their estimate from it alone: its
/// rule for one neuron, which ``BinarySpikeRule/step(_:_:_:_:_:_:_:_:_:_:_:_:)`` runs over every
/// neuron of a population.
protocol BinarySpikeRule {
  /// From a neuron's estimate and its target (both in units of λ) and the step `η`: whether it
  /// fires, and its next estimate.
  static func update<Scalar: TensorScalar>(_ estimate: Scalar, toward goal: Scalar, step eta: Scalar) -> (
    fires: Bool, next: Scalar
  )
}

extension BinarySpikeRule {
  /// One step of every neuron over rows of `scaleCount` neurons (rows of up to 2³⁰ when λ is
  /// shared), in the form LLVM vectorizes: raw pointers, a plain `while` and spikes counted in
  /// `Int32` per row (a `for` over a range, with its overflow trap, or a floating-point count
  /// keeps the loop scalar). Emits `λ·v`; returns the spikes.
  @inline(__always)
  static func step<Scalar: TensorScalar, G: FusedTarget, S: SpikeSink>(
    _: G.Type, _: S.Type, _ eta: Scalar, _ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>,
    _ e: UnsafeMutablePointer<Scalar>, _ neurons: Int, _ l: UnsafePointer<Scalar>, _ r: UnsafePointer<Scalar>,
    _ scaleCount: Int, _ o: UnsafeMutablePointer<Scalar>, _ weighted: UnsafeMutablePointer<Scalar>
  ) -> Int {
    var fired = 0
    var base = 0
    while base < neurons {
      var count: Int32 = 0
      var i = base
      if scaleCount == 1 {
        let end = base &+ Swift.min(neurons &- base, 1 << 30)
        let scale = l[0]
        let inverseScale = r[0]
        let spikeWeight = eta * scale
        while i < end {
          let (fires, next) = update(e[i], toward: G.value(x[i], y[i]) * inverseScale, step: eta)
          e[i] = next
          o[i] = scale * next
          S.store(fires, weight: spikeWeight, at: i, in: weighted)
          count &+= fires ? 1 : 0
          i &+= 1
        }
      } else {
        var j = 0
        while j < scaleCount {
          let (fires, next) = update(e[i], toward: G.value(x[i], y[i]) * r[j], step: eta)
          e[i] = next
          o[i] = l[j] * next
          S.store(fires, weight: eta * l[j], at: i, in: weighted)
          count &+= fires ? 1 : 0
          i &+= 1
          j &+= 1
        }
      }
      fired &+= Int(count)
      base = i
    }
    return fired
  }
}
