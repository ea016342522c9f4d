import Graph
import Tensor

/// The arithmetic of a step: a population fed its drive, an affine node recomputed, pushed
/// its inputs' changes, or following spikes.
extension LoweredNetwork {
  /// `A ← (1 − η)·A + η·b` with `b` repeated along the innermost axis (`A ← (1 − η)·A` without
  /// a bias), in place, as loops LLVM vectorizes (raw pointers, plain `while`).
  private static func decay(
    _ values: UnsafeMutableBufferPointer<Float>, eta: Float, towards bias: UnsafeBufferPointer<Float>?
  ) {
    guard let v = values.baseAddress else { return }
    let keep = 1 - eta
    guard let bias, let b = bias.baseAddress else {
      var i = 0
      while i < values.count {
        v[i] *= keep
        i &+= 1
      }
      return
    }
    var base = 0
    while base < values.count {
      var j = 0
      while j < bias.count {
        v[base &+ j] = keep * v[base &+ j] + eta * b[j]
        j &+= 1
      }
      base &+= bias.count
    }
  }

  /// Moves an affine node fed by spikes one step: `A_t = (1 − η_t)·A_{t−1} + η_t·b + L(S_t)`
  /// with `S_t` the spike source's `η_t·λs_t` (or a bias-free map of it). `L(S_t)` visits only
  /// the nonzero entries of `S_t` where they are few enough, and is a GEMM otherwise.
  func follow(_ map: LoweredNode.AffineMap, at position: Int, _ drive: SpikeDrive) {
    let source = UnsafeBufferPointer(spikeSource(drive.source)!)
    guard map.fanOut > 0 else {
      // A cheap map is recomputed from its input's estimate, as under the dense update (one
      // pass), where anything reads it, and keeps the linear part of its input's spike source
      // for the nodes that read that.
      if stages[position].readsEstimate { apply(map, at: position, changesOnly: false) }
      if let kept = spikeSource(position) {
        apply(map, at: position, to: { _ in source }, linear: true, into: kept)
      }
      return
    }
    let root = stages[drive.root].population!
    let eta = Float(root.schedule.eta(root.step))
    let output = self.output(position)
    withOptionalBuffer(map.bias) { Self.decay(output, eta: eta, towards: $0) }
    var sparse = false
    if map.fanOut >= Self.sparseFanOutMinimum {
      let nonzeros =
        drive.source == drive.root ? stages[drive.root].fired : Tensor<Float>.nonzeroCount(source)
      sparse = nonzeros <= Int(sparseDensityLimit * Double(source.count))
    }
    switch map {
    case .dense(let kernel, _, let inputWidth, let units):
      kernel.withUnsafeBufferPointer { w in
        if sparse {
          Tensor.denseAddingNonzeros(
            source, rows: output.count / units, weight: w, inputWidth: inputWidth, outputWidth: units,
            into: output)
        } else {
          Tensor.dense(
            source, rows: output.count / units, weight: w, inputWidth: inputWidth, outputWidth: units,
            into: output, beta: 1)
        }
      }
    case .conv2d(let conv):
      conv.kernel.withUnsafeBufferPointer { k in
        if sparse {
          Tensor.conv2dAddingNonzeros(
            source, images: images, channels: conv.channels, window: conv.window, kernel: k,
            outChannels: conv.filters, into: output)
        } else {
          Tensor.conv2d(
            source, images: images, channels: conv.channels, window: conv.window, kernel: k,
            outChannels: conv.filters, columns: columns.values, into: output, beta: 1)
        }
      }
    case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
      .channelAffine,
      .sum, .difference, .concatenate, .gather:
      preconditionFailure("only GEMM maps accumulate spikes")
    }
  }

  func advance(_ position: Int, _ drive: LoweredNode.Drive, output: UnsafeMutableBufferPointer<Float>) {
    let count = output.count
    let (spikes, weighted, workspace) = spikeOutputs(position)
    var fused: UnsafeMutableBufferPointer<Float> { scratch.prefix(count) }
    let first: UnsafeBufferPointer<Float>
    var second: UnsafeBufferPointer<Float>?
    switch drive {
    case .one(let x):
      first = value(x)
    case .two(let a, let b):
      first = value(a)
      second = value(b)
    case .pool(let x, let window, let mode, let channels):
      Tensor.pool2d(value(x), images: images, channels: channels, window: window, mode: mode, into: fused)
      first = UnsafeBufferPointer(fused)
    case .layerNorm(let x, let epsilon, let gamma, let beta, let width):
      withOptionalBuffer(gamma) { gamma in
        withOptionalBuffer(beta) { beta in
          Tensor.layerNorm(
            value(x), count: count, width: width, epsilon: epsilon, gamma: gamma, beta: beta, into: fused)
        }
      }
      first = UnsafeBufferPointer(fused)
    case .softmax(let x, let width):
      Tensor.softmax(value(x), count: count, width: width, into: fused)
      first = UnsafeBufferPointer(fused)
    }
    driveObserver?(position, first, second)
    stages[position].population!.advance(
      first: first, second: second, output: output, spikes: spikes, weightedSpikes: weighted,
      workspace: workspace)
  }

  /// Recomputes an affine node from its inputs' estimates, or (`changesOnly`) adds its linear
  /// part applied to its inputs' changes of this step.
  func apply(_ map: LoweredNode.AffineMap, at position: Int, changesOnly: Bool) {
    let output = self.output(position)
    let node = stages[position].node
    // A closure, not an array of buffers: a step allocates nothing.
    let inputs = { (k: Int) in self.value(node.inputs[k], changes: changesOnly) }
    switch map {
    case .dense, .conv2d:
      apply(map, at: position, to: inputs, linear: changesOnly, into: output, adding: changesOnly)
    case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
      .channelAffine,
      .sum, .difference, .concatenate, .gather:
      guard changesOnly else { return apply(map, at: position, to: inputs, linear: false, into: output) }
      let staged = UnsafeMutableBufferPointer(rebasing: scratch.values[0..<output.count])
      apply(map, at: position, to: inputs, linear: true, into: staged)
      for i in output.indices { output[i] += staged[i] }
    }
  }

  /// Writes the map of its inputs (`inputs(k)` the `k`-th) — with its bias or shift, or
  /// (`linear`) its linear part only — into `target`, or (`adding`, GEMM maps only) adds it.
  private func apply(
    _ map: LoweredNode.AffineMap, at position: Int, to inputs: (Int) -> UnsafeBufferPointer<Float>,
    linear: Bool, into target: UnsafeMutableBufferPointer<Float>, adding: Bool = false
  ) {
    let node = stages[position].node
    let count = images * node.size
    switch map {
    case .dense(let kernel, let bias, let inputWidth, let units):
      let bias = linear || adding ? nil : bias
      if let bias { bias.withUnsafeBufferPointer { Tensor.fillRows(target, count: count, with: $0) } }
      kernel.withUnsafeBufferPointer { w in
        Tensor.dense(
          inputs(0), rows: count / units, weight: w, inputWidth: inputWidth, outputWidth: units, into: target,
          beta: adding || bias != nil ? 1 : 0)
      }
      return
    case .conv2d(let conv):
      let bias = linear || adding ? nil : conv.bias
      if let bias { bias.withUnsafeBufferPointer { Tensor.fillRows(target, count: count, with: $0) } }
      conv.kernel.withUnsafeBufferPointer { k in
        Tensor.conv2d(
          inputs(0), images: images, channels: conv.channels, window: conv.window, kernel: k,
          outChannels: conv.filters, columns: columns.values, into: target,
          beta: adding || bias != nil ? 1 : 0)
      }
      return
    case .depthwise, .averagePool, .windowElement, .globalAveragePool, .lastAxis, .lastAxisRotation,
      .channelAffine,
      .sum, .difference, .concatenate, .gather:
      precondition(!adding, "only GEMM maps accumulate")
    }
    let x = inputs(0)
    switch map {
    case .dense, .conv2d:
      break
    case .depthwise(let conv):
      conv.kernel.withUnsafeBufferPointer { k in
        withOptionalBuffer(linear ? nil : conv.bias) { bias in
          Tensor.depthwiseConv2d(
            x, images: images, channels: conv.channels, multiplier: conv.multiplier, window: conv.window,
            kernel: k,
            bias: bias, into: target)
        }
      }
    case .averagePool(let window, let channels):
      Tensor.pool2d(x, images: images, channels: channels, window: window, mode: .average, into: target)
    case .windowElement(let window, let row, let column, let channels):
      Tensor.windowElement(
        x, images: images, channels: channels, window: window, row: row, column: column, into: target)
    case .globalAveragePool(let positions, let channels):
      Tensor.globalAveragePool2d(x, images: images, positions: positions, channels: channels, into: target)
    case .lastAxis(let statistic, let width):
      Tensor.lastAxisStatistic(x, count: count, width: width, statistic: statistic, into: target)
    case .lastAxisRotation(let shift, let width):
      Tensor.lastAxisRotation(x, count: count, width: width, shift: shift, into: target)
    case .channelAffine(let scale, let shift):
      scale.withUnsafeBufferPointer { scale in
        withOptionalBuffer(linear ? nil : shift) { shift in
          Tensor.affinePerChannel(x, count: count, scale: scale, shift: shift, into: target)
        }
      }
    case .sum:
      _ = target.update(fromContentsOf: x)
      for k in 1..<node.inputs.count {
        let other = inputs(k)
        for i in 0..<count { target[i] += other[i] }
      }
    case .difference:
      let b = inputs(1)
      for i in 0..<count { target[i] = x[i] - b[i] }
    case .gather(let indices, let inputSize):
      indices.withUnsafeBufferPointer {
        Tensor.gather(x, images: images, inputSize: inputSize, indices: $0, into: target)
      }
    case .concatenate(let blocks, let outer):
      var offset = 0
      for o in 0..<(images * outer) {
        for (k, block) in blocks.enumerated() {
          _ = UnsafeMutableBufferPointer(rebasing: target[offset..<(offset + block)]).update(
            fromContentsOf: UnsafeBufferPointer(rebasing: inputs(k)[(o * block)..<((o + 1) * block)]))
          offset += block
        }
      }
    }
  }
}
