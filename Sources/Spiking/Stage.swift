import Graph
import Tensor

/// Floats allocated once, zeroed, and freed with the last holder: a stage's output (shared by
/// the aliases that read it, or by affine nodes whose lifetimes within a step do not overlap),
/// its running sums, or the engine's scratch.
final class Storage {
  let values: UnsafeMutableBufferPointer<Float>

  init(count: Int) {
    values = .allocate(capacity: max(count, 1))
    values.initialize(repeating: 0)
  }

  deinit { values.deallocate() }

  /// The first `count` values.
  func prefix(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(rebasing: values[0..<count])
  }
}

/// One graph node as the engine steps it: what it computes (``LoweredNode``) and everything it
/// holds from step to step — its output, a population's neurons, the copies the event update
/// keeps, the running sums of a node that sends spikes — each buffer owned by the stage (or
/// shared with the stages that read the same values) and freed with it.
struct Stage {
  let node: LoweredNode
  /// The node's values for the loaded images (its estimate, or what it sent this step).
  let output: Storage
  /// Event update, where an affine node not fed by spikes reads this node: its values of the
  /// previous step and their change in this one (shared with the aliases of the same buffer).
  let tracked: (previous: Storage, change: Storage)?
  /// Event update: how an affine node fed by spikes follows them.
  let spikeDrive: SpikeDrive?
  /// Whether anything reads the node's estimate (under the event update, a map that only GEMM
  /// maps following its spikes read is never computed itself).
  let readsEstimate: Bool
  /// Event update: `η_t·λs_t` of an integrate-and-fire population whose spikes an affine node
  /// reads, or the linear part of a bias-free map of such spikes that another reads.
  let spikeSource: Storage?
  /// Where the output is what one step sends (spikes, or the readout's input current of a
  /// network that sends spikes): the running sum over the steps, and the mean
  /// ``LoweredNetwork/estimate(at:)`` computes from it.
  let sum: Storage?
  let mean: Storage?
  /// The neurons of a population or of the input encoder, from the first load on.
  var population: Population<Float>?
  /// A NIR neuron node's membranes, and synaptic currents of a current-based one.
  let membrane: Storage?
  let synapse: Storage?
  /// Spikes the population emitted in the last step.
  var fired = 0
  /// Where each step's spikes go when ``LoweredNetwork/recordSpikes(at:)`` named the node.
  var spikeRecord: Storage?
  /// What the population sent at step `t` (from 1), read from a recording instead of computed
  /// (``LoweredNetwork/replay(_:)``).
  var replayed: ((Int) -> UnsafeBufferPointer<Float>)?
  /// Nothing simulated reads the node once populations are replayed.
  var skipped = false

  var isAlias: Bool {
    if case .alias = node.kind { true } else { false }
  }
}
