import Tensor

extension UnaryFunction {
  /// The slope `leaky_relu` stands for when no slope is given: the default of Keras's
  /// `leaky_relu` activation. (Keras's `LeakyReLU` *layer* defaults to 0.3; the model reader
  /// applies that where the layer omits it.)
  public static let namedLeakySlope = 0.2

  /// The activations that have a name: in Keras `activation` fields and `Activation` layers, in
  /// model descriptions and on command lines. The one table every reader, writer and parser
  /// uses; a function's canonical name is its first entry, later entries are aliases.
  public static let named: [(name: String, function: UnaryFunction)] = [
    ("linear", .identity),
    ("relu", .relu),
    ("relu6", .clippedRelu(maxValue: 6, negativeSlope: 0, threshold: 0)),
    ("gelu", .gelu(.exact)),
    ("silu", .silu),
    ("swish", .silu),
    ("hard_silu", .hardSwish),
    ("hard_swish", .hardSwish),
    ("hard_sigmoid", .hardSigmoid(slope: 1.0 / 6, offset: 0.5)),
    ("tanh", .tanh),
    ("sigmoid", .sigmoid),
    ("softplus", .softplus),
    ("exponential", .exp),
    ("elu", .elu(alpha: 1)),
    ("leaky_relu", .leakyRelu(slope: namedLeakySlope)),
  ]

  /// The function a name in ``named`` stands for; nil for any other name.
  public init?(named name: String) {
    guard let entry = Self.named.first(where: { $0.name == name }) else { return nil }
    self = entry.function
  }

  /// The canonical name of the function in ``named``; nil when it has none (other slopes,
  /// `abs`, `square`, the approximate GELUs …).
  public var canonicalName: String? { Self.named.first { $0.function == self }?.name }

  /// The names ``init(named:)`` accepts, comma-separated, for messages and help.
  public static var namesList: String { named.map(\.name).joined(separator: ", ") }

  /// The name used in tables, results and errors: the canonical name, else the function
  /// family's (`leaky_relu` for every slope, `gelu_tanh`, `abs` …).
  public var name: String {
    if let canonicalName { return canonicalName }
    switch self {
    case .identity: return "linear"
    case .relu: return "relu"
    case .leakyRelu: return "leaky_relu"
    case .clippedRelu: return "relu_clipped"
    case .gelu(let form): return "gelu_\(form.rawValue)"
    case .silu: return "silu"
    case .hardSwish: return "hard_silu"
    case .hardSigmoid: return "hard_sigmoid"
    case .tanh: return "tanh"
    case .sigmoid: return "sigmoid"
    case .softplus: return "softplus"
    case .elu: return "elu"
    case .abs: return "abs"
    case .square: return "square"
    case .exp: return "exp"
    }
  }
}
