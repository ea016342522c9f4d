import Dispatch
import Foundation
import Tensor

/// What simulating a NIR graph measured.
public struct NIRSimulationResult: Sendable, Codable {
  /// A node that fires spikes (IF, LIF, CubaLIF, Threshold).
  public struct Population: Sendable, Codable, Equatable {
    public let name: String
    public let type: String
    public let neurons: Int
    /// Spikes per neuron per step over steps 1…T, one per measured T.
    public let spikesPerNeuronPerStep: [Double]
    /// All spikes of all images over steps 1…T, one per measured T.
    public let spikes: [Double]
  }

  public let timesteps: [Int]
  /// The fraction of images whose readout's arg-max is the label, one per measured T.
  public let accuracy: [Double]
  public let images: Int
  public let populations: [Population]
  /// Each image's readout (the Output node's input summed over steps 1…max T), `images ×
  /// readout width`, when asked for.
  public let readout: [Float]?
}

/// Runs NIR graphs with the discrete-time semantics of docs/nir.md: steps of the graph's `dt`
/// (``NIRGraph/dt``, 1 unless given), forward Euler,
/// every state 0 at the start, the image as input current at every step, nodes in topological
/// order within a step, edges into one node added, the readout the Output node's input summed
/// over the steps.
public enum NIRSimulator {
  /// Simulates `images` (`N ×` the Input node's shape, channel-first, flattened) for up to the
  /// largest of `timesteps` steps and measures accuracy and spikes at each.
  ///
  /// Batches go to worker threads, each with its own state; results are summed in batch order,
  /// so they do not depend on the number of threads.
  /// - Parameters:
  ///   - labels: one per image, each less than the readout width.
  ///   - progress: (images done, total images, steps done in the current batch).
  /// - Complexity: O(max T × one pass through the graph) per image; memory O(batch × the
  ///   graph's values), allocated once.
  ///   - sharding: which batches this process simulates in a job, and how the others' counts
  ///     reach it (``Sharding``); every process returns the whole result, added in batch order.
  public static func run(
    _ graph: NIRGraph, images: [Float], labels: [Int], timesteps: [Int], batchSize: Int, threads: Int? = nil,
    keepReadout: Bool = false, sharding: Sharding = .alone, progress: (Int, Int, Int) -> Void = { _, _, _ in }
  ) throws -> NIRSimulationResult {
    let inputCount = graph.nodes[graph.input].count
    precondition(
      images.count == labels.count * inputCount, "\(images.count) values for \(labels.count) images")
    precondition(
      !timesteps.isEmpty && zip(timesteps, timesteps.dropFirst()).allSatisfy { $0 < $1 } && timesteps[0] > 0)
    precondition(batchSize > 0)
    let plan = BatchPlan(images: labels.count, batchSize: batchSize, sharding: sharding)
    let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, plan.owned.count))
    let capacity = min(batchSize, max(labels.count, 1))
    let states = (0..<workers).map { _ in NIRState(graph, capacity: capacity, timesteps: timesteps) }
    let spiking = graph.nodes.indices.filter {
      switch graph.nodes[$0].operation {
      case .neurons(let neurons): return neurons.model.spikes
      case .threshold: return true
      default: return false
      }
    }
    let measured = try images.withUnsafeBufferPointer { images in
      try plan.run(
        workers: workers, progress: progress,
        simulate: { w, range, tick in
          states[w].simulate(
            UnsafeBufferPointer(
              rebasing: images[(range.lowerBound * inputCount)..<(range.upperBound * inputCount)]),
            labels: Array(labels[range]), spiking: spiking, progress: tick)
        },
        measures: { w in
          // A batch's counts, in the form every simulation exchanges (no ANN, no errors).
          BatchMeasures(
            annCorrect: 0, correct: states[w].correct, agreed: [], annMagnitude: [], absError: [],
            spikes: states[w].spikeTotals, readoutError: [], readout: keepReadout ? states[w].readoutRows : []
          )
        })
    }
    // Every batch's counts added in batch order, whichever process simulated it.
    var correct = [Int](repeating: 0, count: timesteps.count)
    var spikes = [[Double]](repeating: [Double](repeating: 0, count: timesteps.count), count: spiking.count)
    var readout = keepReadout ? [Float]() : nil
    for batch in measured {
      for k in timesteps.indices { correct[k] += batch.correct[k] }
      for p in spiking.indices {
        for k in timesteps.indices { spikes[p][k] += batch.spikes[p][k] }
      }
      if keepReadout { readout! += batch.readout }
    }
    let count = Double(labels.count)
    let populations = spiking.enumerated().map { p, k in
      NIRSimulationResult.Population(
        name: graph.nodes[k].name, type: graph.nodes[k].type, neurons: graph.nodes[k].count,
        spikesPerNeuronPerStep: zip(spikes[p], timesteps).map {
          $0 / (count * Double(graph.nodes[k].count * $1))
        },
        spikes: spikes[p])
    }
    return NIRSimulationResult(
      timesteps: timesteps, accuracy: correct.map { Double($0) / count }, images: labels.count,
      populations: populations, readout: readout)
  }
}

/// One worker's buffers: every node's output and state for a batch, allocated once.
private final class NIRState: @unchecked Sendable {
  let graph: NIRGraph
  let capacity: Int
  let timesteps: [Int]
  /// Each node's output this step (`capacity × count`); a pass node's is its input's.
  let values: [UnsafeMutableBufferPointer<Float>]
  /// The buffers of `values` this state allocated.
  let owned: [UnsafeMutableBufferPointer<Float>]
  /// The sum of a node's inputs, for nodes with several (`capacity ×` the inputs' count).
  let sums: [UnsafeMutableBufferPointer<Float>?]
  /// Membranes, and synaptic currents of current-based neurons.
  let membranes: [UnsafeMutableBufferPointer<Float>?]
  let synapses: [UnsafeMutableBufferPointer<Float>?]
  /// Column buffers of convolutions (one image, one group).
  let columns: [UnsafeMutableBufferPointer<Float>?]
  let readout: UnsafeMutableBufferPointer<Float>
  // Results of the last batch.
  var correct: [Int]
  var spikeTotals: [[Double]] = []
  var readoutRows: [Float] = []

  init(_ graph: NIRGraph, capacity: Int, timesteps: [Int]) {
    self.graph = graph
    self.capacity = capacity
    self.timesteps = timesteps
    func buffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
      let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
      buffer.initialize(repeating: 0)
      return buffer
    }
    let sums = graph.nodes.map { node in
      node.sources.count > 1 ? buffer(capacity * graph.nodes[node.sources[0]].count) : nil
    }
    self.sums = sums
    // A node that passes its input on unchanged (Flatten, Identity) shares its input's buffer:
    // nothing is copied at every step.
    var values = [UnsafeMutableBufferPointer<Float>]()
    var owned = [UnsafeMutableBufferPointer<Float>]()
    for (k, node) in graph.nodes.enumerated() {
      if case .pass = node.operation {
        values.append(sums[k] ?? values[node.sources[0]])
      } else {
        values.append(buffer(capacity * node.count))
        owned.append(values[k])
      }
    }
    self.values = values
    self.owned = owned
    membranes = graph.nodes.map { node in
      switch node.operation {
      case .neurons: return buffer(capacity * node.count)
      default: return nil
      }
    }
    synapses = graph.nodes.map { node in
      if case .neurons(let neurons) = node.operation, neurons.tauSynapse != nil {
        return buffer(capacity * node.count)
      }
      return nil
    }
    columns = graph.nodes.map { node in
      guard case .convolution(let c) = node.operation else { return nil }
      return buffer(
        (c.inChannels / c.groups) * c.kernelHeight * c.kernelWidth * c.outputHeight * c.outputWidth)
    }
    readout = buffer(capacity * graph.readoutWidth)
    correct = [Int](repeating: 0, count: timesteps.count)
  }

  deinit {
    for buffer in owned + sums.compactMap({ $0 }) + membranes.compactMap({ $0 })
      + synapses.compactMap({ $0 })
      + columns.compactMap({ $0 }) + [readout]
    {
      buffer.deallocate()
    }
  }

  /// Sets the membranes of `node`'s neurons, image after image, where they start: 0, or the
  /// graph's `initial_membrane` (one value, one per channel of the channel-first shape, or one
  /// per neuron).
  static func start(_ membrane: UnsafeMutableBufferPointer<Float>, _ node: NIRGraph.Node) {
    guard case .neurons(let neurons) = node.operation, let initial = neurons.initialMembrane else {
      return membrane.update(repeating: 0)
    }
    let perChannel = node.count / initial.count
    for i in membrane.indices { membrane[i] = initial[(i % node.count) / perChannel] }
  }

  func simulate(
    _ images: UnsafeBufferPointer<Float>, labels: [Int], spiking: [Int], progress: ((Int) -> Void)?
  ) {
    let batch = labels.count
    let width = graph.readoutWidth
    for (k, node) in graph.nodes.enumerated() {
      if let membrane = membranes[k] { Self.start(membrane, node) }
      synapses[k]?.update(repeating: 0)
    }
    readout.update(repeating: 0)
    _ = UnsafeMutableBufferPointer(rebasing: values[graph.input][..<images.count]).initialize(
      fromContentsOf: images)
    correct = [Int](repeating: 0, count: timesteps.count)
    spikeTotals = [[Double]](repeating: [Double](repeating: 0, count: timesteps.count), count: spiking.count)
    let slot = Dictionary(uniqueKeysWithValues: spiking.enumerated().map { ($1, $0) })
    var running = [Double](repeating: 0, count: spiking.count)
    var next = 0
    for t in 1...timesteps.last! {
      for k in graph.nodes.indices where k != graph.input {
        let fired = step(k, batch: batch)
        if let p = slot[k] { running[p] += Double(fired) }
      }
      if t == timesteps[next] {
        for p in spiking.indices { spikeTotals[p][next] = running[p] }
        for i in 0..<batch {
          var best = 0
          for j in 1..<max(width, 1) where readout[i * width + j] > readout[i * width + best] { best = j }
          if best == labels[i] { correct[next] += 1 }
        }
        next += 1
      }
      progress?(t)
    }
    readoutRows = Array(readout[..<(batch * width)])
  }

  /// The sum of node `k`'s inputs this step.
  private func input(of k: Int, batch: Int) -> UnsafeMutableBufferPointer<Float> {
    let sources = graph.nodes[k].sources
    guard let sum = sums[k] else { return values[sources[0]] }
    let n = batch * graph.nodes[sources[0]].count
    for i in 0..<n { sum[i] = values[sources[0]][i] }
    for source in sources.dropFirst() {
      let x = values[source]
      for i in 0..<n { sum[i] = sum[i] + x[i] }
    }
    return sum
  }

  /// Updates node `k` for one step; returns how many spikes it fired.
  private func step(_ k: Int, batch: Int) -> Int {
    let node = graph.nodes[k]
    let x = input(of: k, batch: batch)
    let y = values[k]
    let count = node.count
    switch node.operation {
    case .input: return 0
    case .pass: break  // `y` is `x` (see `values`)
    case .output:
      for i in 0..<(batch * count) {
        y[i] = x[i]
        readout[i] = readout[i] + x[i]
      }
    case .affine(let weight, let bias, let inputs, let outputs):
      let rows = batch * (graph.nodes[node.sources[0]].count / inputs)
      weight.withUnsafeBufferPointer { w in
        Tensor<Float>.gemm(
          transposeA: false, transposeB: true, m: rows, n: outputs, k: inputs, alpha: 1,
          a: UnsafeBufferPointer(x), lda: inputs, b: w, ldb: inputs, beta: 0, c: y, ldc: outputs)
      }
      if let bias {
        for row in 0..<rows {
          for j in 0..<outputs { y[row * outputs + j] = y[row * outputs + j] + bias[j] }
        }
      }
    case .scale(let factors):
      factors.withUnsafeBufferPointer { factors in
        for image in 0..<batch {
          let base = image * count
          for j in 0..<count { y[base + j] = x[base + j] * factors[j] }
        }
      }
    case .convolution(let c):
      convolve(c, x, y, batch: batch, columns: columns[k]!)
    case .pooling(let p):
      pool(p, x, y, batch: batch)
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
      return integrate(
        neurons, x, y, membrane: membranes[k]!, synapse: synapses[k], count: count, batch: batch)
    }
    return 0
  }

  private func integrate(
    _ n: NIRGraph.Neurons, _ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>,
    membrane v: UnsafeMutableBufferPointer<Float>, synapse: UnsafeMutableBufferPointer<Float>?, count: Int,
    batch: Int
  ) -> Int {
    let r = n.r
    // The membrane update, one model at a time (the switch outside the loops).
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

  /// PyTorch's cross-correlation, one image and one group at a time: the image's windows as
  /// columns, then one product with the group's kernels.
  private func convolve(
    _ c: NIRGraph.Convolution, _ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>,
    batch: Int, columns: UnsafeMutableBufferPointer<Float>
  ) {
    let (h, w) = (c.inputHeight, c.inputWidth)
    let positions = c.outputHeight * c.outputWidth
    let groupIn = c.inChannels / c.groups
    let groupOut = c.outChannels / c.groups
    let depth = groupIn * c.kernelHeight * c.kernelWidth
    if let channels = c.depthwise {
      convolveChannelwise(c, channels: channels, x, y, batch: batch)
      return
    }
    c.weight.withUnsafeBufferPointer { weight in
      for image in 0..<batch {
        let input = image * c.inChannels * h * w
        let output = image * c.outChannels * positions
        for g in 0..<c.groups {
          var row = 0
          for channel in (g * groupIn)..<((g + 1) * groupIn) {
            for ky in 0..<c.kernelHeight {
              for kx in 0..<c.kernelWidth {
                for oy in 0..<c.outputHeight {
                  let iy = oy * c.strideHeight - c.padTop + ky * c.dilationHeight
                  for ox in 0..<c.outputWidth {
                    let ix = ox * c.strideWidth - c.padLeft + kx * c.dilationWidth
                    columns[row * positions + oy * c.outputWidth + ox] =
                      iy >= 0 && iy < h && ix >= 0 && ix < w ? x[input + (channel * h + iy) * w + ix] : 0
                  }
                }
                row += 1
              }
            }
          }
          Tensor<Float>.gemm(
            transposeA: false, transposeB: false, m: groupOut, n: positions, k: depth, alpha: 1,
            a: UnsafeBufferPointer(rebasing: weight[(g * groupOut * depth)...]), lda: depth,
            b: UnsafeBufferPointer(columns), ldb: positions, beta: 0,
            c: UnsafeMutableBufferPointer(rebasing: y[(output + g * groupOut * positions)...]), ldc: positions
          )
        }
        for channel in 0..<c.outChannels {
          let base = output + channel * positions
          for p in 0..<positions { y[base + p] = y[base + p] + c.bias[channel] }
        }
      }
    }
  }

  /// A convolution whose output channels each read one input channel: the kernel's non-zero
  /// products added in kernel order, then the bias — as the product over all input channels
  /// adds them, the other channels and taps contributing exact zeros.
  private func convolveChannelwise(
    _ c: NIRGraph.Convolution, channels: [NIRGraph.ChannelTaps], _ x: UnsafeMutableBufferPointer<Float>,
    _ y: UnsafeMutableBufferPointer<Float>, batch: Int
  ) {
    let (h, w) = (c.inputHeight, c.inputWidth)
    let (outH, outW) = (c.outputHeight, c.outputWidth)
    let (strideH, strideW, dilationH, dilationW) = (
      c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth
    )
    let (padTop, padLeft) = (c.padTop, c.padLeft)
    let positions = outH * outW
    for image in 0..<batch {
      for (o, entry) in channels.enumerated() {
        let plane = (image * c.inChannels + entry.channel) * h * w
        let base = (image * c.outChannels + o) * positions
        let bias = c.bias[o]
        for oy in 0..<outH {
          for ox in 0..<outW {
            var sum: Float = 0
            for tap in entry.taps {
              let iy = oy * strideH - padTop + tap.row * dilationH
              let ix = ox * strideW - padLeft + tap.column * dilationW
              if iy >= 0 && iy < h && ix >= 0 && ix < w { sum = sum + x[plane + iy * w + ix] * tap.weight }
            }
            y[base + oy * outW + ox] = sum + bias
          }
        }
      }
    }
  }

  private func pool(
    _ p: NIRGraph.Pooling, _ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>,
    batch: Int
  ) {
    let (h, w) = (p.inputHeight, p.inputWidth)
    let divisor = Float(p.kernelHeight * p.kernelWidth)
    var out = 0
    for plane in 0..<(batch * p.channels) {
      let base = plane * h * w
      for oy in 0..<p.outputHeight {
        for ox in 0..<p.outputWidth {
          var sum: Float = 0
          for ky in 0..<p.kernelHeight {
            let iy = oy * p.strideHeight - p.padTop + ky
            guard iy >= 0 && iy < h else { continue }
            for kx in 0..<p.kernelWidth {
              let ix = ox * p.strideWidth - p.padLeft + kx
              if ix >= 0 && ix < w { sum = sum + x[base + iy * w + ix] }
            }
          }
          y[out] = p.average ? sum / divisor : sum
          out += 1
        }
      }
    }
  }
}

extension NIRGraph {
  /// `images` as the Input node takes them, channel-first and flattened: a batch of
  /// channel-last images `N×H×W×C` whose `C×H×W` (or `H×W×C`, taken as stored) is the Input's
  /// shape, or any batch whose images hold as many values as the Input (read in channel-first
  /// order).
  /// - Throws: ``NIRGraphError`` naming both shapes when the sizes differ.
  public func adapt(images: Tensor<Float>) throws -> [Float] {
    let shape = inputShape
    let perImage = Array(images.shape.dropFirst())
    guard perImage.reduce(1, *) == shape.reduce(1, *) else {
      throw NIRGraphError(
        node: nodes[input].name,
        "the data's images are \(Self.text(perImage)) (\(perImage.reduce(1, *)) values); the Input takes \(Self.text(shape)) (\(shape.reduce(1, *)))"
      )
    }
    // An Input labelled H×W×C takes the images as stored; with one channel both orders agree.
    guard perImage.count == 3, perImage != shape, perImage[2] > 1 else { return images.scalars }
    // Channel-last N×H×W×C to channel-first N×C×H×W.
    return images.permuted([0, 3, 1, 2]).scalars
  }
}
