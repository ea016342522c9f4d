import Tensor

/// The result of running a network over a labelled set.
public struct Evaluation: Sendable {
  /// Images whose arg-max output equals the label.
  public let correct: Int
  public let count: Int
  /// The network's first output for every image, `[count] + output shape`, when kept.
  public let outputs: Tensor<Float>?

  /// Top-1 accuracy in [0, 1] (0 for an empty set).
  public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }
}

extension Graph {
  /// Adapts images to the graph's input shape: unchanged when they match, reshaped when the
  /// per-sample element counts agree (a flat `(784)` MLP fed `(28, 28, 1)` images, or unit axes
  /// moved: `(28, 28)` for `(1, 28, 28)`). The same number of axes in another order is refused:
  /// that is another layout (`(16, 16, 3)` images for a `(3, 16, 16)` input), not a flattening.
  /// - Throws: ``GraphError/shapeMismatch(node:op:detail:)`` naming the input when they differ.
  public func adaptInput(_ images: Tensor<Float>) throws -> Tensor<Float> {
    guard let input = inputNodes.first, inputNodes.count == 1 else {
      throw GraphError.shapeMismatch(
        node: name, op: "Graph",
        detail: "evaluation needs a single-input network, this one has \(inputNodes.count)")
    }
    let perSample = Array(images.shape.dropFirst())
    if perSample == input.shape { return images }
    guard perSample.reduce(1, *) == input.shape.reduce(1, *) else {
      throw GraphError.shapeMismatch(
        node: input.name, op: input.op.kind,
        detail: "the network expects inputs of shape \(input.shape), the data has \(perSample)")
    }
    // The same number of axes in another shape is another layout (channels first for
    // channels last, say), not a flattening: reinterpreting it would scramble every image.
    let squeezed = { (shape: [Int]) in shape.filter { $0 != 1 } }
    if perSample.count == input.shape.count, squeezed(perSample) != squeezed(input.shape) {
      throw GraphError.shapeMismatch(
        node: input.name, op: input.op.kind,
        detail: "the network expects inputs of shape \(input.shape), the data has \(perSample): "
          + "the same values in another layout, which is not reinterpreted (store the arrays as the model takes them)"
      )
    }
    return images.reshaped([images.shape[0]] + input.shape)
  }

  /// Runs the network over `images` in batches and scores the arg-max of its first output.
  /// - Parameters:
  ///   - keepOutputs: collect every output row (memory: count × output size).
  ///   - progress: called after each batch with (images done, total).
  /// - Throws: when the images do not fit the input (see ``adaptInput(_:)``) or the output is
  ///   not a vector of class scores.
  /// - Complexity: one inference pass per image; memory O(batch × largest activation).
  public func evaluate(
    images: Tensor<Float>, labels: [Int], batchSize: Int = 256, keepOutputs: Bool = false,
    progress: ((Int, Int) -> Void)? = nil
  ) throws -> Evaluation {
    precondition(
      batchSize > 0 && images.shape.first == labels.count,
      "evaluate: \(images.shape) vs \(labels.count) labels")
    let adapted = try adaptInput(images)
    guard let output = node(outputs[0]), output.shape.count == 1 else {
      throw GraphError.shapeMismatch(
        node: outputs[0], op: "output",
        detail: "scoring needs a vector output per image, got \(node(outputs[0])?.shape ?? [])")
    }
    var correct = 0
    var kept = [Float]()
    if keepOutputs { kept.reserveCapacity(labels.count * output.shape[0]) }
    var start = 0
    while start < labels.count {
      let end = min(start + batchSize, labels.count)
      let scores = predict([adapted.rows(start..<end)])[0]
      for (offset, guess) in scores.argmaxLastAxis().enumerated() where guess == labels[start + offset] {
        correct += 1
      }
      if keepOutputs { kept += scores.scalars }
      start = end
      progress?(end, labels.count)
    }
    return Evaluation(
      correct: correct, count: labels.count,
      outputs: keepOutputs ? Tensor(shape: [labels.count] + output.shape, scalars: kept) : nil)
  }
}
