import Datasets
import Foundation
import Graph
import Tensor

/// Everything that decides how a network trains.
/// How the mini-batches of training are spread over the processes of a job (docs/scaling.md):
/// every process takes the shards of ``Trainer/shardRows`` rows `k` with `k mod size = rank`
/// of every global batch, sums their gradients, and the sums are added over the processes so
/// that every process applies the same update. A batch of one shard (at most 64 rows, or any
/// batch of a network with BatchNorm) is computed whole by every process.
public struct GradientSharding: Sendable {
  public let rank: Int
  public let size: Int
  /// Element-wise sums over the processes, the same bits on every process.
  public let sumFloats: @Sendable (inout [Float]) -> Void
  public let sumDoubles: @Sendable (inout [Double]) -> Void

  public init(
    rank: Int, size: Int, sumFloats: @escaping @Sendable (inout [Float]) -> Void,
    sumDoubles: @escaping @Sendable (inout [Double]) -> Void
  ) {
    self.rank = rank
    self.size = size
    self.sumFloats = sumFloats
    self.sumDoubles = sumDoubles
  }

  /// One process computing every shard.
  public static let alone = GradientSharding(rank: 0, size: 1, sumFloats: { _ in }, sumDoubles: { _ in })

  func sum<Scalar: TensorScalar>(_ values: inout [Scalar]) {
    if var floats = values as? [Float] {
      sumFloats(&floats)
      values = floats as! [Scalar]
    } else if var doubles = values as? [Double] {
      sumDoubles(&doubles)
      values = doubles as! [Scalar]
    } else {
      preconditionFailure("gradients of \(Scalar.self) cannot be summed over processes")
    }
  }
}

public struct TrainingConfiguration: Sendable, Hashable, Codable {
  public var epochs: Int
  public var batchSize: Int
  public var learningRate: Double
  public var schedule: LearningRateSchedule
  public var optimizer: OptimizerSettings
  public var loss: Loss
  public var precision: Precision
  public var policy: SubgradientPolicy
  /// Seeds the mini-batch shuffle and dropout; the same seed gives bit-identical weights.
  public var seed: UInt64
  /// Threads computing the shards of a mini-batch (nil: one per core). The weights do not depend
  /// on it: the shards are fixed by the batch size alone and added in order.
  public var threads: Int?
  /// The bytes training may take (nil: what the process may take, ``Trainer/memoryAvailable``):
  /// a network whose activations of the rows computed at once would not fit is refused before
  /// the first batch (``Trainer/activationBytes(_:rows:scalarBytes:)``).
  public var memoryLimit: Int?

  public init(
    epochs: Int = 10, batchSize: Int = 128, learningRate: Double = 1e-3,
    schedule: LearningRateSchedule = .constant,
    optimizer: OptimizerSettings = OptimizerSettings(), loss: Loss = .crossEntropy,
    precision: Precision = .float32,
    policy: SubgradientPolicy = SubgradientPolicy(), seed: UInt64 = 0, threads: Int? = nil
  ) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.learningRate = learningRate
    self.schedule = schedule
    self.optimizer = optimizer
    self.loss = loss
    self.precision = precision
    self.policy = policy
    self.seed = seed
    self.threads = threads
  }
}

/// Why training stopped early.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The loss became NaN or infinite.
  case diverged(epoch: Int, batch: Int, loss: Double)
  /// The graph holds an op that has no backward pass (a step of a spiking decomposition).
  case untrainableOp(node: String, op: String)
  /// The network's output is not one score per class.
  case notAClassifier(outputShape: [Int], classes: Int)
  /// The activations a training step keeps for its backward pass would not fit in memory:
  /// `needed` bytes for `rows` images at once through `nodes` nodes, `available` allowed.
  case exceedsMemory(needed: Int, available: Int, nodes: Int, rows: Int)
  /// A label outside the data set's classes.
  case labelOutOfRange(label: Int, classes: Int)

  public var description: String {
    switch self {
    case .notAClassifier(let shape, let classes):
      return
        "the network's output has shape \(shape); training needs one score per class, a vector of \(classes)"
    case .labelOutOfRange(let label, let classes):
      return "label \(label) is outside the data set's \(classes) classes"
    case .exceedsMemory(let needed, let available, let nodes, let rows):
      func gib(_ bytes: Int) -> String { String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
      return
        "a training step keeps the activations of \(rows) images through \(nodes) nodes for its backward pass, about \(gib(needed)), more than the \(gib(available)) this process may use; use a smaller --batch-size or fewer --threads, or fewer layers (docs/limits.md)"
    case .untrainableOp(let node, let op):
      return "'\(node)' (\(op)) cannot be trained: it is a step of a spiking decomposition"
    case .diverged(let epoch, let batch, let loss):
      return
        "training diverged at epoch \(epoch), batch \(batch): the loss is \(loss); lower --lr or use a wider --precision"
    }
  }
}

/// One line of the training log.
public struct EpochReport: Sendable, Hashable, Codable {
  public let epoch: Int
  /// Mean training loss over the epoch's mini-batches.
  public let loss: Double
  /// Accuracy on the training batches as they were seen (training mode: dropout on, batch statistics).
  public let trainAccuracy: Double
  /// Accuracy on the held-out set in inference mode, when one was given.
  public let testAccuracy: Double?
  public let learningRate: Double
  public let seconds: Double
}

/// Mini-batch training by backpropagation.
public enum Trainer {
  /// The parameters that optimizers move (moving statistics are updated by the forward pass).
  static let trainable: Set<String> = ["kernel", "bias", "gamma", "beta"]

  /// The softmax that ends `graph` when `loss` is the cross-entropy, which applies a softmax of
  /// its own: training then fits the softmax's input (the logits) and keeps the softmax as it is.
  /// Nil when the network's only output is not a softmax that nothing else reads.
  public static func softmaxAppliedByLoss(_ graph: Graph, loss: Loss) -> Node? {
    guard loss == .crossEntropy, graph.outputs.count == 1, let last = graph.node(graph.outputs[0]),
      case .softmax = last.op, !graph.nodes.contains(where: { $0.inputs.contains(last.name) })
    else { return nil }
    return last
  }

  /// Trains `graph` on `train`, reporting after every batch and epoch. A network ending in a
  /// softmax trained with the cross-entropy trains its logits (``softmaxAppliedByLoss(_:loss:)``).
  /// - Parameters:
  ///   - test: scored after every epoch in inference mode, if given.
  ///   - onBatch: (batches done in this epoch, batches per epoch, running mean loss).
  ///   - onEpoch: called once per epoch.
  /// - Returns: the trained graph (parameters in float32) and the log.
  /// - Throws: ``GraphError`` when the images do not fit the network's input;
  ///   ``TrainingError/diverged(epoch:batch:loss:)`` when the loss stops being finite.
  public static func fit(
    _ graph: Graph, train: LabeledImages, test: LabeledImages? = nil, configuration: TrainingConfiguration,
    sharding: GradientSharding = .alone, onBatch: (Int, Int, Double) -> Void = { _, _, _ in },
    onEpoch: (EpochReport) -> Void = { _ in }
  ) throws -> (graph: Graph, history: [EpochReport]) {
    if let softmax = softmaxAppliedByLoss(graph, loss: configuration.loss) {
      // Keras classifiers often end in a softmax; the cross-entropy applies its own, so train
      // the logits and put the softmax back afterwards.
      let logits = try Graph(
        name: graph.name, nodes: graph.nodes.filter { $0.name != softmax.name }, outputs: [softmax.inputs[0]])
      let (trained, history) = try fit(
        logits, train: train, test: test, configuration: configuration, sharding: sharding, onBatch: onBatch,
        onEpoch: onEpoch)
      return (try Graph(name: graph.name, nodes: trained.nodes + [softmax], outputs: graph.outputs), history)
    }
    switch configuration.precision {
    case .float64:
      return try fit(
        graph, train: train, test: test, configuration: configuration, as: Double.self, sharding: sharding,
        onBatch: onBatch, onEpoch: onEpoch)
    case .float32, .float16:
      return try fit(
        graph, train: train, test: test, configuration: configuration, as: Float.self, sharding: sharding,
        onBatch: onBatch, onEpoch: onEpoch)
    }
  }

  static func fit<Scalar: TensorScalar>(
    _ graph: Graph, train: LabeledImages, test: LabeledImages?, configuration c: TrainingConfiguration,
    as: Scalar.Type, sharding: GradientSharding = .alone, onBatch: (Int, Int, Double) -> Void,
    onEpoch: (EpochReport) -> Void
  ) throws -> (graph: Graph, history: [EpochReport]) {
    precondition(c.batchSize > 0 && c.epochs >= 0, "batch size and epochs must be positive")
    let output = graph.node(graph.outputs[0])!.shape
    guard output == [train.classNames.count] else {
      throw TrainingError.notAClassifier(outputShape: output, classes: train.classNames.count)
    }
    if let label = train.labels.first(where: { !(0..<train.classNames.count).contains($0) }) {
      throw TrainingError.labelOutOfRange(label: label, classes: train.classNames.count)
    }
    let threads = max(1, c.threads ?? ProcessInfo.processInfo.activeProcessorCount)
    // The rows computed at once: the whole batch where BatchNorm couples them, else a shard per thread.
    let rows = couplesRows(graph) ? c.batchSize : min(c.batchSize, shardRows * threads)
    let needed = activationBytes(graph, rows: rows, scalarBytes: MemoryLayout<Scalar>.stride)
    let available = c.memoryLimit ?? memoryAvailable
    guard needed <= available else {
      throw TrainingError.exceedsMemory(
        needed: needed, available: available, nodes: graph.nodes.count, rows: rows)
    }
    let half = c.precision == .float16
    var network = try TrainingNetwork<Scalar>(graph: graph, roundsToHalf: half, policy: c.policy)
    var optimizer = Optimizer<Scalar>(
      settings: c.optimizer, roundsToHalf: half, parameters: network.parameters, trainable: trainable)
    let images: Tensor<Scalar> = try graph.adaptInput(train.images).converted()
    let testImages: Tensor<Scalar>? = try test.map { try graph.adaptInput($0.images).converted() }
    let root = SplitMix64(seed: c.seed)
    var shuffle = root.split(1)
    var dropout = root.split(2)
    let batchesPerEpoch = (train.count + c.batchSize - 1) / c.batchSize
    let totalSteps = batchesPerEpoch * c.epochs
    var history = [EpochReport]()
    var order = Array(0..<train.count)
    for epoch in 0..<c.epochs {
      let start = Date()
      order.shuffle(using: &shuffle)
      var lossTotal = 0.0
      var correct = 0
      var rate = c.learningRate
      for batch in 0..<batchesPerEpoch {
        let indices = Array(order[(batch * c.batchSize)..<min((batch + 1) * c.batchSize, train.count)])
        let labels = indices.map { train.labels[$0] }
        rate = c.schedule.rate(
          base: c.learningRate, step: epoch * batchesPerEpoch + batch, totalSteps: totalSteps, epoch: epoch)
        let (loss, hits) = step(
          &network, optimizer: &optimizer, input: images.gatherRows(indices), labels: labels, loss: c.loss,
          rate: rate, random: &dropout, threads: threads, sharding: sharding)
        guard loss.isFinite else {
          throw TrainingError.diverged(epoch: epoch + 1, batch: batch + 1, loss: loss)
        }
        lossTotal += loss
        correct += hits
        onBatch(batch + 1, batchesPerEpoch, lossTotal / Double(batch + 1))
      }
      let testAccuracy = testImages.map { accuracy(of: &network, images: $0, labels: test!.labels) }
      let report = EpochReport(
        epoch: epoch + 1, loss: lossTotal / Double(max(batchesPerEpoch, 1)),
        trainAccuracy: Double(correct) / Double(max(train.count, 1)), testAccuracy: testAccuracy,
        learningRate: rate,
        seconds: Date().timeIntervalSince(start))
      history.append(report)
      onEpoch(report)
    }
    return (try network.trainedGraph(), history)
  }

  /// What one mini-batch gives before any parameter moves: the batch loss, the number of
  /// correct arg-max predictions, the tape of the forward pass and the gradient of every
  /// trainable parameter.
  struct BatchGradients<Scalar: TensorScalar> {
    let loss: Double
    let hits: Int
    let tape: TrainingNetwork<Scalar>.Tape
    let gradients: [[String: Tensor<Scalar>]]
  }

  /// Runs the network on one mini-batch (or, with `divisor`, one shard of a mini-batch of that
  /// many rows) in training mode and backpropagates `loss`.
  static func gradients<Scalar: TensorScalar>(
    _ network: inout TrainingNetwork<Scalar>, input: Tensor<Scalar>, labels: [Int], loss: Loss,
    divisor: Int? = nil, random: inout SplitMix64
  ) -> BatchGradients<Scalar> {
    let tape = network.forward(input, training: true, random: &random)
    let hits = zip(tape.output.argmaxLastAxis(), labels).filter { $0 == $1 }.count
    let (value, lossGradient) = loss.evaluate(tape.output, labels: labels, divisor: divisor)
    var gradient = lossGradient
    if network.roundsToHalf { gradient.roundToHalf() }
    return BatchGradients(
      loss: value, hits: hits, tape: tape, gradients: network.backward(tape, outputGradient: gradient))
  }

  /// The bytes of the activations a forward pass keeps for the backward pass, `rows` images at
  /// once: every node's output, `scalarBytes` per value (saturating; a lower bound of what a
  /// step takes, which also holds gradients and the parameters).
  public static func activationBytes(_ graph: Graph, rows: Int, scalarBytes: Int) -> Int {
    var values = 0
    for node in graph.nodes {
      let (size, overflow) = node.shape.reduce((1, false)) { partial, dimension in
        let product = partial.0.multipliedReportingOverflow(by: dimension)
        return (product.partialValue, partial.1 || product.overflow)
      }
      let (sum, sumOverflow) = values.addingReportingOverflow(size)
      guard !overflow, !sumOverflow else { return .max }
      values = sum
    }
    let (perValue, rowsOverflow) = rows.multipliedReportingOverflow(by: scalarBytes)
    let (bytes, overflow) = values.multipliedReportingOverflow(by: perValue)
    return overflow || rowsOverflow ? .max : bytes
  }

  /// The bytes this process may take: the machine's memory, or less where a resource limit
  /// (`ulimit -v`, `ulimit -d`) says so.
  public static var memoryAvailable: Int {
    var available = Int(clamping: ProcessInfo.processInfo.physicalMemory)
    for resource in [RLIMIT_AS, RLIMIT_DATA] {
      var limit = rlimit()
      guard getrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max
      else { continue }
      available = min(available, Int(clamping: limit.rlim_cur))
    }
    return available
  }

  /// The rows of a mini-batch computed as one unit. A mini-batch is cut into shards of this many
  /// rows (the last one shorter), each shard's gradient is computed on its own — by whichever
  /// thread is free — and the shards' gradients are added in shard order. The cut depends on the
  /// batch size only, so the weights are the same for any number of threads.
  static let shardRows = 64

  /// Whether the training-mode forward pass couples the rows of a batch: BatchNorm normalizes
  /// with statistics of the whole batch, so a network holding one is computed as one shard.
  static func couplesRows(_ graph: Graph) -> Bool {
    graph.nodes.contains {
      if case .batchNorm = $0.op { return true }
      return false
    }
  }

  /// The mean loss, the correct predictions and the gradient of one mini-batch, computed in
  /// shards of ``shardRows`` rows on up to `threads` threads. Dropout in shard `k` draws from
  /// its own stream, split from one draw of `random`.
  ///
  /// In a job (`sharding`), this process computes only the shards `k` with
  /// `k mod size = rank` (on its `threads`), and the sums of every process's shards are added
  /// over the processes.
  static func shardedGradients<Scalar: TensorScalar>(
    _ network: inout TrainingNetwork<Scalar>, input: Tensor<Scalar>, labels: [Int], loss: Loss,
    random: inout SplitMix64, threads: Int, sharding: GradientSharding = .alone
  ) -> (loss: Double, hits: Int, gradients: [[String: Tensor<Scalar>]]) {
    let rows = labels.count
    guard rows > shardRows, !couplesRows(network.graph) else {
      let batch = gradients(&network, input: input, labels: labels, loss: loss, random: &random)
      return (batch.loss, batch.hits, batch.gradients)
    }
    let shards = stride(from: 0, to: rows, by: shardRows).map { $0..<min($0 + shardRows, rows) }
    let streams = SplitMix64(seed: random.next())
    let mine = shards.indices.filter { $0 % sharding.size == sharding.rank }
    // A process without a shard (more processes than shards) adds zeros, shaped by a shard it
    // computes only for their shapes.
    let computed = mine.isEmpty ? [0] : mine
    let workers = min(threads, computed.count)
    var results = [(loss: Double, hits: Int, gradients: [[String: Tensor<Scalar>]])?](
      repeating: nil, count: computed.count)
    let shared = UncheckedSendable(network)
    results.withUnsafeMutableBufferPointer { slots in
      let slots = UncheckedSendable(slots)
      DispatchQueue.concurrentPerform(iterations: workers) { worker in
        // Without BatchNorm the forward pass changes nothing in the network: each worker's copy
        // shares the parameters' storage.
        var local = shared.value
        for slot in stride(from: worker, to: computed.count, by: workers) {
          let k = computed[slot]
          var stream = streams.split(UInt64(k))
          let batch = gradients(
            &local, input: input.rows(shards[k]), labels: Array(labels[shards[k]]), loss: loss, divisor: rows,
            random: &stream)
          slots.value[slot] = (batch.loss, batch.hits, batch.gradients)
        }
      }
    }
    var (total, hits, sum) = results[0]!
    for result in results.dropFirst() {
      total += result!.loss
      hits += result!.hits
      for node in sum.indices {
        for (name, gradient) in result!.gradients[node] {
          // In place, one pass: the sum, rounded to half in half precision.
          let half = network.roundsToHalf
          sum[node][name]!.withUnsafeMutableScalars { total in
            gradient.scalars.withUnsafeBufferPointer { part in
              precondition(total.count == part.count, "shard gradients of \(name) differ in size")
              guard let t = total.baseAddress, let p = part.baseAddress else { return }
              var i = 0
              if half {
                while i < total.count {
                  t[i] = Scalar.roundedToHalf(t[i] + p[i])
                  i &+= 1
                }
              } else {
                while i < total.count {
                  t[i] += p[i]
                  i &+= 1
                }
              }
            }
          }
        }
      }
    }
    guard sharding.size > 1 else { return (total, hits, sum) }
    // Added over the processes, loss and hits with the gradients.
    var flat = mine.isEmpty ? [Scalar](repeating: 0, count: flatten(sum).count) : flatten(sum)
    var totals = mine.isEmpty ? [0.0, 0.0] : [total, Double(hits)]
    sharding.sum(&flat)
    sharding.sumDoubles(&totals)
    if network.roundsToHalf { flat = flat.map(Scalar.roundedToHalf) }
    return (totals[0], Int(totals[1]), unflatten(flat, like: sum))
  }

  /// Gradients as one array: node by node, parameters in name order.
  static func flatten<Scalar: TensorScalar>(_ gradients: [[String: Tensor<Scalar>]]) -> [Scalar] {
    gradients.flatMap { node in node.keys.sorted().flatMap { node[$0]!.scalars } }
  }

  /// ``flatten(_:)`` undone, into the shapes of `template`.
  static func unflatten<Scalar: TensorScalar>(
    _ flat: [Scalar], like template: [[String: Tensor<Scalar>]]
  ) -> [[String: Tensor<Scalar>]] {
    var offset = 0
    return template.map { node in
      var out = [String: Tensor<Scalar>]()
      for name in node.keys.sorted() {
        let shape = node[name]!.shape
        let count = shape.reduce(1, *)
        out[name] = Tensor(shape: shape, scalars: Array(flat[offset..<(offset + count)]))
        offset += count
      }
      return out
    }
  }

  /// One optimization step on one mini-batch; returns the batch loss and the number of correct
  /// arg-max predictions.
  static func step<Scalar: TensorScalar>(
    _ network: inout TrainingNetwork<Scalar>, optimizer: inout Optimizer<Scalar>, input: Tensor<Scalar>,
    labels: [Int], loss: Loss, rate: Double, random: inout SplitMix64, threads: Int,
    sharding: GradientSharding = .alone
  ) -> (Double, Int) {
    let batch = shardedGradients(
      &network, input: input, labels: labels, loss: loss, random: &random, threads: threads,
      sharding: sharding)
    optimizer.step(&network.parameters, gradients: batch.gradients, rate: rate, threads: threads)
    return (batch.loss, batch.hits)
  }

  /// Top-1 accuracy in inference mode, in batches of 500.
  static func accuracy<Scalar: TensorScalar>(
    of network: inout TrainingNetwork<Scalar>, images: Tensor<Scalar>, labels: [Int]
  ) -> Double {
    var correct = 0
    var unused = SplitMix64(seed: 0)
    var start = 0
    while start < labels.count {
      let end = min(start + 500, labels.count)
      let output = network.forward(images.rows(start..<end), training: false, random: &unused).output
      correct += zip(output.argmaxLastAxis(), labels[start..<end]).filter { $0 == $1 }.count
      start = end
    }
    return labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
  }
}

/// A value handed to concurrent workers that the caller knows is safe to share: each worker
/// writes only its own slots, and reads what no one writes.
struct UncheckedSendable<Value>: @unchecked Sendable {
  var value: Value
  init(_ value: Value) { self.value = value }
}
