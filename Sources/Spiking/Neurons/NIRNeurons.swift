/// The neuron nodes of a NIR graph (docs/nir.md, "The discrete-time semantics") as the engine
/// steps them: one stage per node, its parameters one value per neuron (in the order the stage
/// stores its values), its membrane `v` and, for the current-based models, its synaptic current
/// `i`, both owned by the stage. With `I` the node's input in a step (its edges added):
///
/// - `IF`:  `v ← v + r·I`, a spike where `v > θ`;
/// - `I`:   `v ← v + r·I`, the output is `v`;
/// - `LIF`: `v ← v + (v_leak − v + r·I)/τ`, a spike where `v > θ`;
/// - `LI`:  `v ← v + (v_leak − v + r·I)/τ`, the output is `v`;
/// - `CubaLIF`, `CubaLI`: `i ← i + (w_in·I − i)/τ_syn`, then `v ← v + (v_leak − v + r·i)/τ_mem`
///   (a time constant of ∞ adds its input instead: `i ← i + I`, `v ← v + i`), a spike (LIF)
///   where `v > θ`, the output `v` (LI);
/// - `Threshold`: a spike where `I > θ`, no state.
///
/// A spiking neuron that fires resets to `v_reset`, or by subtracting `θ` where the file marks
/// `reset_mode = subtract` (this toolkit's own export). `r` is in the units of a step of `dt`,
/// `τ` in steps (``NIRGraph/Neurons``).
struct NIRNeurons {
  enum Kind {
    case neurons(NIRGraph.Neurons)
    case threshold([Float])
  }

  let kind: Kind

  /// Whether the node sends spikes (otherwise its output is its membrane).
  var spikes: Bool {
    switch kind {
    case .neurons(let neurons): return neurons.model.spikes
    case .threshold: return true
    }
  }

  /// Whether the node has a membrane, and a synaptic current.
  var hasMembrane: Bool {
    if case .neurons = kind { true } else { false }
  }

  var hasSynapse: Bool {
    if case .neurons(let neurons) = kind { neurons.tauSynapse != nil } else { false }
  }

  /// The same node with its per-neuron values in stored order: stored value `k` is the node's
  /// value `order[k]` in NIR's (channel-first) order.
  func reordered(_ order: [Int]?) -> NIRNeurons {
    guard let order else { return self }
    func permuted(_ values: [Float]) -> [Float] { order.map { values[$0] } }
    switch kind {
    case .threshold(let thresholds):
      return NIRNeurons(kind: .threshold(permuted(thresholds)))
    case .neurons(let n):
      // A start per channel (the first dimension) or one for all, as one per neuron first.
      let count = order.count
      let initial = n.initialMembrane.map { values -> [Float] in
        let perChannel = count / values.count
        return permuted((0..<count).map { values[$0 / perChannel] })
      }
      return NIRNeurons(
        kind: .neurons(
          NIRGraph.Neurons(
            model: n.model, r: permuted(n.r), tau: n.tau.map(permuted),
            tauSynapse: n.tauSynapse.map(permuted),
            inputWeight: n.inputWeight.map(permuted), vLeak: n.vLeak.map(permuted),
            vThreshold: n.vThreshold.map(permuted), vReset: n.vReset.map(permuted),
            resetBySubtraction: n.resetBySubtraction, initialMembrane: initial,
            synapseIntegrates: n.synapseIntegrates, membraneIntegrates: n.membraneIntegrates)))
    }
  }

  /// Sets the membranes of `images` images of `count` neurons where they start: 0, or the
  /// graph's `initial_membrane` (one value, or one per neuron once ``reordered(_:)``).
  func start(_ membrane: UnsafeMutableBufferPointer<Float>, count: Int) {
    guard case .neurons(let neurons) = kind, let initial = neurons.initialMembrane else {
      return membrane.update(repeating: 0)
    }
    let perNeuron = count / initial.count
    for i in membrane.indices { membrane[i] = initial[(i % count) / perNeuron] }
  }

  /// One step of `batch` images of `count` neurons: input `x`, output `y` (spikes 0/1 or the
  /// membrane); returns how many spikes fired.
  func step(
    _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>,
    membrane: UnsafeMutableBufferPointer<Float>?, synapse: UnsafeMutableBufferPointer<Float>?, count: Int,
    batch: Int
  ) -> Int {
    switch kind {
    case .threshold(let thresholds):
      var fired = 0
      for image in 0..<batch {
        let base = image * count
        for j in 0..<count {
          let spike = x[base + j] > thresholds[j]
          y[base + j] = spike ? 1 : 0
          if spike { fired += 1 }
        }
      }
      return fired
    case .neurons(let neurons):
      Self.integrate(neurons, x, membrane!, synapse: synapse, count: count, batch: batch)
      return Self.fire(neurons, y, membrane!, count: count, batch: batch)
    }
  }

  /// The membrane update, one model at a time (the switch outside the loops).
  private static func integrate(
    _ n: NIRGraph.Neurons, _ x: UnsafeBufferPointer<Float>, _ v: UnsafeMutableBufferPointer<Float>,
    synapse: UnsafeMutableBufferPointer<Float>?, count: Int, batch: Int
  ) {
    let r = n.r
    switch n.model {
    case .integrateAndFire, .integrator:
      for image in 0..<batch {
        let base = image * count
        for j in 0..<count { v[base + j] = v[base + j] + r[j] * x[base + j] }
      }
    case .leakyIntegrateAndFire, .leakyIntegrator:
      let (leak, tau) = (n.vLeak!, n.tau!)
      for image in 0..<batch {
        let base = image * count
        for j in 0..<count {
          let u = v[base + j]
          v[base + j] = u + (leak[j] - u + r[j] * x[base + j]) / tau[j]
        }
      }
    case .currentBasedLIF, .currentBasedLI:
      let (s, leak, tau, tauSynapse) = (synapse!, n.vLeak!, n.tau!, n.tauSynapse!)
      let weight = n.inputWeight!
      let (synapseIntegrates, membraneIntegrates) = (n.synapseIntegrates, n.membraneIntegrates)
      for image in 0..<batch {
        let base = image * count
        for j in 0..<count {
          // A time constant of ∞ (no leak) adds its input instead (docs/nir.md).
          let current =
            synapseIntegrates
            ? s[base + j] + x[base + j]
            : s[base + j] + (weight[j] * x[base + j] - s[base + j]) / tauSynapse[j]
          s[base + j] = current
          let u = v[base + j]
          v[base + j] = membraneIntegrates ? u + current : u + (leak[j] - u + r[j] * current) / tau[j]
        }
      }
    }
  }

  /// Spikes and resets of a spiking model, or the membrane as the output of the others.
  private static func fire(
    _ n: NIRGraph.Neurons, _ y: UnsafeMutableBufferPointer<Float>, _ v: UnsafeMutableBufferPointer<Float>,
    count: Int, batch: Int
  ) -> Int {
    guard n.model.spikes else {
      for i in 0..<(batch * count) { y[i] = v[i] }
      return 0
    }
    let threshold = n.vThreshold!
    let reset = n.vReset!
    var fired = 0
    for image in 0..<batch {
      let base = image * count
      for j in 0..<count {
        let u = v[base + j]
        if u > threshold[j] {
          v[base + j] = n.resetBySubtraction ? u - threshold[j] : reset[j]
          y[base + j] = 1
          fired += 1
        } else {
          y[base + j] = 0
        }
      }
    }
    return fired
  }
}
