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
    try builder.input(inputShape)
    switch self {
    case .mlp, .mlpGELU:
      try builder.flatten()
      for _ in 0..<3 {
        try builder.dense(256)
        try builder.activate()
      }
    case .cnn, .cnnBN:
      let normalize = self == .cnnBN
      for filters in [32, 64] {
        try builder.conv(filters, useBias: !normalize)
        if normalize { try builder.batchNorm() }
        try builder.activate()
        try builder.pool(.max)
      }
      try builder.flatten()
      try builder.dense(128, useBias: !normalize)
      if normalize { try builder.batchNorm() }
      try builder.activate()
    case .mlpLayerNorm:
      try builder.flatten()
      for _ in 0..<2 {
        try builder.dense(256)
        try builder.layerNorm()
        try builder.activate()
      }
    case .resmlp:
      try builder.flatten()
      try builder.dense(256)
      try builder.activate()
      for _ in 0..<2 {
        let skip = builder.last
        try builder.dense(256)
        try builder.activate()
        try builder.dense(256)
        try builder.add(skip)
      }
      try builder.activate()
    }
    try builder.dense(classes)
    random = builder.random
    return try Graph(name: rawValue, nodes: builder.nodes)
  }
}

/// Appends layers one after another, naming them Keras-style (`dense_1`, `conv2d_2` …) and
/// initializing their parameters. Shapes come from the graph's own shape inference: each step
/// validates the nodes so far, so a layer that does not fit fails with the graph's error.
struct GraphBuilder {
  var random: SplitMix64
  let activation: UnaryFunction
  private(set) var nodes = [Node]()
  private var counts = [String: Int]()
  /// The per-sample shape of the last node.
  private(set) var shape = [Int]()
  /// The per-sample shape of every node so far.
  private var shapes = [String: [Int]]()

  init(random: SplitMix64, activation: UnaryFunction) {
    self.random = random
    self.activation = activation
  }

  var last: String { nodes.last!.name }

  private mutating func append(
    _ base: String, _ op: Op, inputs: [String]? = nil, parameters: [String: Tensor<Float>] = [:]
  ) throws {
    counts[base, default: 0] += 1
    let node = Node(
      name: "\(base)_\(counts[base]!)", op: op, inputs: inputs ?? [last], parameters: parameters)
    // Only the new node's shape: the whole graph is validated once, when it is built (checking
    // it at every layer made a 10,000-layer description take a minute).
    let inputShapes = try node.inputs.map { input in
      guard let shape = shapes[input] else { throw GraphError.unknownInput(node: node.name, input: input) }
      return shape
    }
    shape = try Graph.outputShape(of: node, inputShapes: inputShapes)
    shapes[node.name] = shape
    nodes.append(node)
  }

  /// Refuses a parameter shape before it is allocated: every dimension positive, at most
  /// ``Graph/maximumElements`` elements. `base` names the layer as the next node will be named.
  func check(_ shape: [Int], of base: String) throws {
    let node = "\(base)_\((counts[base] ?? 0) + 1)"
    guard shape.allSatisfy({ $0 > 0 }) else {
      throw GraphError.badAttribute(node: node, detail: "kernel shape \(shape) must be positive")
    }
    guard Graph.elementCount(shape) != nil else {
      throw GraphError.tooLarge(node: node, what: "a kernel", shape: shape)
    }
  }

  mutating func glorot(_ shape: [Int], fanIn: Int, fanOut: Int) -> Tensor<Float> {
    let limit = Float((6 / Double(fanIn + fanOut)).squareRoot())
    return Tensor(shape: shape, scalars: random.uniform(shape.reduce(1, *), in: -limit...limit))
  }

  mutating func input(_ shape: [Int]) throws {
    let node = Node(name: "input", op: .input(shape: shape))
    self.shape = try Graph.outputShape(of: node, inputShapes: [])
    shapes[node.name] = self.shape
    nodes.append(node)
  }

  mutating func flatten() throws { try append("flatten", .flatten) }

  mutating func dense(_ units: Int, useBias: Bool = true) throws {
    let inputs = shape.last ?? 0
    try check([inputs, units], of: "dense")
    var parameters = ["kernel": glorot([inputs, units], fanIn: inputs, fanOut: units)]
    if useBias { parameters["bias"] = Tensor(zeros: [units]) }
    try append("dense", .dense(units: units, useBias: useBias), parameters: parameters)
  }

  mutating func conv(
    _ filters: Int, kernel: Int = 3, strides: Int = 1, padding: Padding = .same, useBias: Bool = true
  ) throws {
    let channels = shape.last ?? 0
    try check([kernel, kernel, channels, filters], of: "conv2d")
    let area = kernel * kernel
    var parameters = [
      "kernel": glorot([kernel, kernel, channels, filters], fanIn: area * channels, fanOut: area * filters)
    ]
    if useBias { parameters["bias"] = Tensor(zeros: [filters]) }
    let attributes = Conv2DAttributes(
      filters: filters, kernelSize: [kernel, kernel], strides: [strides, strides], padding: padding,
      useBias: useBias)
    try append("conv2d", .conv2d(attributes), parameters: parameters)
  }

  mutating func pool(_ mode: PoolingMode, size: Int = 2, strides: Int? = nil, padding: Padding = .valid)
    throws
  {
    let attributes = Pool2DAttributes(
      mode: mode, size: [size, size], strides: strides.map { [$0, $0] }, padding: padding)
    try append(mode == .max ? "max_pooling2d" : "average_pooling2d", .pool2d(attributes))
  }

  mutating func globalAveragePool() throws { try append("global_average_pooling2d", .globalAveragePool2d) }

  mutating func dropout(_ rate: Double) throws { try append("dropout", .dropout(rate: rate)) }

  mutating func batchNorm() throws {
    let c = shape.last ?? 0
    try append(
      "batch_normalization", .batchNorm(epsilon: 1e-3, center: true, scale: true),
      parameters: [
        "gamma": Tensor(repeating: 1, shape: [c]), "beta": Tensor(zeros: [c]),
        "moving_mean": Tensor(zeros: [c]),
        "moving_variance": Tensor(repeating: 1, shape: [c]),
      ])
  }

  mutating func layerNorm() throws {
    let c = shape.last ?? 0
    try append(
      "layer_normalization", .layerNorm(epsilon: 1e-3, center: true, scale: true),
      parameters: ["gamma": Tensor(repeating: 1, shape: [c]), "beta": Tensor(zeros: [c])])
  }

  mutating func activate(_ function: UnaryFunction? = nil) throws {
    let function = function ?? activation
    try append(function.name, .activation(function))
  }

  mutating func softmax() throws { try append("softmax", .softmax) }

  mutating func add(_ other: String) throws { try append("add", .add, inputs: [last, other]) }
}
