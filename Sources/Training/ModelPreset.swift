import Graph
import Tensor

/// The built-in network shapes `snntrain fit --model` accepts, for 28×28×1 images and 10 classes.
/// Each ends in logits (no softmax): the loss applies its own.
public enum ModelPreset: String, Sendable, Hashable, Codable, CaseIterable {
  /// Flatten → 3 × (Dense 256, ReLU) → Dense 10: Bertoin et al.'s MNIST network.
  case mlp
  /// The same with GELU (exact) activations.
  case mlpGELU = "mlp-gelu"
  /// Conv 32 3×3 same → ReLU → MaxPool 2 → Conv 64 3×3 same → ReLU → MaxPool 2 → Flatten →
  /// Dense 128 → ReLU → Dense 10.
  case cnn
  /// The CNN with BatchNormalization after each convolution and the hidden dense layer (the
  /// layers before BatchNorm have no bias: β plays its part).
  case cnnBN = "cnn-bn"
  /// Flatten → 2 × (Dense 256, LayerNormalization, SiLU) → Dense 10.
  case mlpLayerNorm = "mlp-layernorm"
  /// Flatten → Dense 256 → ReLU → 2 residual blocks `h + Dense(ReLU(Dense(h)))` (256 wide) →
  /// ReLU → Dense 10.
  case resmlp

  /// The hidden activation the preset uses unless overridden.
  public var defaultActivation: UnaryFunction {
    switch self {
    case .mlpGELU: return .gelu(.exact)
    case .mlpLayerNorm: return .silu
    default: return .relu
    }
  }

  /// Builds the graph with freshly initialized parameters: Glorot-uniform kernels
  /// (`U(±sqrt(6/(fan_in + fan_out)))`, Keras's default), zero biases, BatchNorm and LayerNorm
  /// at γ = 1, β = 0, moving mean 0 and variance 1.
  /// - Parameters:
  ///   - activation: replaces every hidden activation (nil: the preset's own).
  ///   - inputShape: per-sample input shape; classes: output width.
  public func build(
    activation: UnaryFunction? = nil, inputShape: [Int] = [28, 28, 1], classes: Int = 10,
    random: inout SplitMix64
  ) throws -> Graph {
    var builder = GraphBuilder(random: random, activation: activation ?? defaultActivation)
    builder.input(inputShape)
    switch self {
    case .mlp, .mlpGELU:
      builder.flatten()
      for _ in 0..<3 {
        builder.dense(256)
        builder.activate()
      }
    case .cnn, .cnnBN:
      let normalize = self == .cnnBN
      for filters in [32, 64] {
        builder.conv(filters, useBias: !normalize)
        if normalize { builder.batchNorm() }
        builder.activate()
        builder.maxPool()
      }
      builder.flatten()
      builder.dense(128, useBias: !normalize)
      if normalize { builder.batchNorm() }
      builder.activate()
    case .mlpLayerNorm:
      builder.flatten()
      for _ in 0..<2 {
        builder.dense(256)
        builder.layerNorm()
        builder.activate()
      }
    case .resmlp:
      builder.flatten()
      builder.dense(256)
      builder.activate()
      for _ in 0..<2 {
        let skip = builder.last
        builder.dense(256)
        builder.activate()
        builder.dense(256)
        builder.add(skip)
      }
      builder.activate()
    }
    builder.dense(classes)
    random = builder.random
    return try Graph(name: rawValue, nodes: builder.nodes)
  }
}

/// Appends layers one after another, naming them Keras-style (`dense_1`, `conv2d_2` …) and
/// initializing their parameters.
struct GraphBuilder {
  var random: SplitMix64
  let activation: UnaryFunction
  private(set) var nodes = [Node]()
  private var counts = [String: Int]()
  private var shape = [Int]()

  init(random: SplitMix64, activation: UnaryFunction) {
    self.random = random
    self.activation = activation
  }

  var last: String { nodes.last!.name }

  private mutating func name(_ base: String) -> String {
    counts[base, default: 0] += 1
    return "\(base)_\(counts[base]!)"
  }

  private mutating func append(
    _ base: String, _ op: Op, inputs: [String]? = nil, parameters: [String: Tensor<Float>] = [:],
    shape newShape: [Int]
  ) {
    nodes.append(Node(name: name(base), op: op, inputs: inputs ?? [last], parameters: parameters))
    shape = newShape
  }

  mutating func glorot(_ shape: [Int], fanIn: Int, fanOut: Int) -> Tensor<Float> {
    let limit = Float((6 / Double(fanIn + fanOut)).squareRoot())
    return Tensor(shape: shape, scalars: random.uniform(shape.reduce(1, *), in: -limit...limit))
  }

  mutating func input(_ shape: [Int]) {
    nodes.append(Node(name: "input", op: .input(shape: shape)))
    self.shape = shape
  }

  mutating func flatten() { append("flatten", .flatten, shape: [shape.reduce(1, *)]) }

  mutating func dense(_ units: Int, useBias: Bool = true) {
    let inputs = shape.last!
    var parameters = ["kernel": glorot([inputs, units], fanIn: inputs, fanOut: units)]
    if useBias { parameters["bias"] = Tensor(zeros: [units]) }
    append(
      "dense", .dense(units: units, useBias: useBias), parameters: parameters,
      shape: shape.dropLast() + [units])
  }

  mutating func conv(_ filters: Int, useBias: Bool = true) {
    let channels = shape[2]
    var parameters = ["kernel": glorot([3, 3, channels, filters], fanIn: 9 * channels, fanOut: 9 * filters)]
    if useBias { parameters["bias"] = Tensor(zeros: [filters]) }
    append(
      "conv2d",
      .conv2d(Conv2DAttributes(filters: filters, kernelSize: [3, 3], padding: .same, useBias: useBias)),
      parameters: parameters, shape: [shape[0], shape[1], filters])
  }

  mutating func maxPool() {
    append(
      "max_pooling2d", .pool2d(Pool2DAttributes(mode: .max, size: [2, 2])),
      shape: [shape[0] / 2, shape[1] / 2, shape[2]])
  }

  mutating func batchNorm() {
    let c = shape.last!
    append(
      "batch_normalization", .batchNorm(epsilon: 1e-3, center: true, scale: true),
      parameters: [
        "gamma": Tensor(repeating: 1, shape: [c]), "beta": Tensor(zeros: [c]),
        "moving_mean": Tensor(zeros: [c]),
        "moving_variance": Tensor(repeating: 1, shape: [c]),
      ], shape: shape)
  }

  mutating func layerNorm() {
    let c = shape.last!
    append(
      "layer_normalization", .layerNorm(epsilon: 1e-3, center: true, scale: true),
      parameters: ["gamma": Tensor(repeating: 1, shape: [c]), "beta": Tensor(zeros: [c])], shape: shape)
  }

  mutating func activate() { append(activation.name, .activation(activation), shape: shape) }

  mutating func add(_ other: String) { append("add", .add, inputs: [last, other], shape: shape) }
}
